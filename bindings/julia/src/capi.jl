# The raw C ABI: one Julia function per entry point of include/synthvol.h, each with exactly the
# header's signature (scripts/julia-signature-check compares them on every test run). Nothing
# here converts, checks or decides; the rest of the package calls these.

# Opaque handle types: only pointers to them cross the boundary.
struct sv_table end
struct sv_model end
struct sv_bytes end
struct sv_cancel end

# The header's constants (the signature check compares each value with its #define).
const SV_ABI_VERSION = UInt32(1)
const SV_NUMERIC = Int32(0)
const SV_CATEGORICAL = Int32(1)
const SV_LOG_INFO = Int32(0)
const SV_LOG_WARNING = Int32(1)
const SV_OK = Int32(0)
const SV_E_NULL = Int32(1)
const SV_E_INVALID_ARGUMENT = Int32(2)
const SV_E_DATA = Int32(3)
const SV_E_FORMAT = Int32(4)
const SV_E_IO = Int32(5)
const SV_E_CANCELLED = Int32(6)
const SV_E_NUMERICAL = Int32(7)
const SV_E_UTF8 = Int32(8)
const SV_E_BUFFER_TOO_SMALL = Int32(9)
const SV_E_PANIC = Int32(10)
const SV_E_DEVICE = Int32(11)
const SV_E_RESOURCES = Int32(12)

# `sv_fit_options`, field for field (the C layout: Julia lays out an immutable struct of
# bits types as C does).
struct sv_fit_options
    struct_size::Csize_t
    target::Ptr{UInt8}
    steps::UInt64
    batch_size::UInt64
    learning_rate::Float64
    seed::UInt64
    threads::UInt32
    epsilon::Float64
    delta::Float64
    schema_json::Ptr{UInt8}
    extra_json::Ptr{UInt8}
end

# Header functions this package deliberately leaves unwrapped, with the reason (the signature
# check accepts exactly these as missing).
const UNWRAPPED = ()

# The library, opened in __init__ (never at precompile time).
const LIB = Ref{Ptr{Cvoid}}(C_NULL)
const LIB_PATH = Ref{String}("")

# The address of one entry point of the opened library.
function fn(name::Symbol)
    LIB[] == C_NULL && error("the synthvol library is not loaded (see SynthVol.libpath())")
    return Libdl.dlsym(LIB[], name)
end

sv_last_error() = @ccall $(fn(:sv_last_error))()::Cstring

sv_abi_version() = @ccall $(fn(:sv_abi_version))()::UInt32

sv_version() = @ccall $(fn(:sv_version))()::Cstring

sv_set_log_callback(callback, min_level, user) =
    @ccall $(fn(:sv_set_log_callback))(callback::Ptr{Cvoid}, min_level::Int32, user::Ptr{Cvoid})::Cint

sv_cancel_new(out) = @ccall $(fn(:sv_cancel_new))(out::Ref{Ptr{sv_cancel}})::Cint

sv_cancel_request(token) = @ccall $(fn(:sv_cancel_request))(token::Ptr{sv_cancel})::Cvoid

sv_cancel_free(token) = @ccall $(fn(:sv_cancel_free))(token::Ptr{sv_cancel})::Cvoid

sv_bytes_data(bytes) = @ccall $(fn(:sv_bytes_data))(bytes::Ptr{sv_bytes})::Ptr{UInt8}

sv_bytes_len(bytes) = @ccall $(fn(:sv_bytes_len))(bytes::Ptr{sv_bytes})::Csize_t

sv_bytes_free(bytes) = @ccall $(fn(:sv_bytes_free))(bytes::Ptr{sv_bytes})::Cvoid

sv_evaluate(real, synthetic, holdout, options_json, progress, user, cancel, report_json) =
    @ccall $(fn(:sv_evaluate))(real::Ptr{sv_table}, synthetic::Ptr{sv_table},
                               holdout::Ptr{sv_table}, options_json::Ptr{UInt8},
                               progress::Ptr{Cvoid}, user::Ptr{Cvoid}, cancel::Ptr{sv_cancel},
                               report_json::Ref{Ptr{sv_bytes}})::Cint

sv_fit_options_init(options) =
    @ccall $(fn(:sv_fit_options_init))(options::Ref{sv_fit_options})::Cint

sv_fit(data, options, progress, user, cancel, out) =
    @ccall $(fn(:sv_fit))(data::Ptr{sv_table}, options::Ref{sv_fit_options},
                          progress::Ptr{Cvoid}, user::Ptr{Cvoid}, cancel::Ptr{sv_cancel},
                          out::Ref{Ptr{sv_model}})::Cint

sv_fine_tune(pretrained, data, options, progress, user, cancel, out) =
    @ccall $(fn(:sv_fine_tune))(pretrained::Ptr{sv_model}, data::Ptr{sv_table},
                                options::Ref{sv_fit_options}, progress::Ptr{Cvoid},
                                user::Ptr{Cvoid}, cancel::Ptr{sv_cancel},
                                out::Ref{Ptr{sv_model}})::Cint

sv_sample(model, n, seed, threads, progress, user, cancel, out) =
    @ccall $(fn(:sv_sample))(model::Ptr{sv_model}, n::Csize_t, seed::UInt64, threads::UInt32,
                             progress::Ptr{Cvoid}, user::Ptr{Cvoid}, cancel::Ptr{sv_cancel},
                             out::Ref{Ptr{sv_table}})::Cint

sv_sample_range(model, seed, start, count, options_json, progress, user, cancel, out) =
    @ccall $(fn(:sv_sample_range))(model::Ptr{sv_model}, seed::UInt64, start::UInt64,
                                   count::Csize_t, options_json::Ptr{UInt8},
                                   progress::Ptr{Cvoid}, user::Ptr{Cvoid},
                                   cancel::Ptr{sv_cancel}, out::Ref{Ptr{sv_table}})::Cint

sv_sample_stream(model, seed, start, count, options_json, sink, sink_user, progress, user, cancel) =
    @ccall $(fn(:sv_sample_stream))(model::Ptr{sv_model}, seed::UInt64, start::UInt64,
                                    count::UInt64, options_json::Ptr{UInt8}, sink::Ptr{Cvoid},
                                    sink_user::Ptr{Cvoid}, progress::Ptr{Cvoid},
                                    user::Ptr{Cvoid}, cancel::Ptr{sv_cancel})::Cint

sv_shard_range(rows, i, k, start, count) =
    @ccall $(fn(:sv_shard_range))(rows::UInt64, i::UInt64, k::UInt64, start::Ref{UInt64},
                                  count::Ref{UInt64})::Cint

sv_model_save(model, path) =
    @ccall $(fn(:sv_model_save))(model::Ptr{sv_model}, path::Cstring)::Cint

sv_model_load(path, out) =
    @ccall $(fn(:sv_model_load))(path::Cstring, out::Ref{Ptr{sv_model}})::Cint

sv_model_to_bytes(model, out) =
    @ccall $(fn(:sv_model_to_bytes))(model::Ptr{sv_model}, out::Ref{Ptr{sv_bytes}})::Cint

sv_model_from_bytes(data, len, out) =
    @ccall $(fn(:sv_model_from_bytes))(data::Ptr{UInt8}, len::Csize_t,
                                       out::Ref{Ptr{sv_model}})::Cint

sv_model_clone(model, out) =
    @ccall $(fn(:sv_model_clone))(model::Ptr{sv_model}, out::Ref{Ptr{sv_model}})::Cint

sv_model_free(model) = @ccall $(fn(:sv_model_free))(model::Ptr{sv_model})::Cvoid

sv_model_info_json(model, out) =
    @ccall $(fn(:sv_model_info_json))(model::Ptr{sv_model}, out::Ref{Ptr{sv_bytes}})::Cint

sv_model_privacy_json(model, out) =
    @ccall $(fn(:sv_model_privacy_json))(model::Ptr{sv_model}, out::Ref{Ptr{sv_bytes}})::Cint

sv_privacy_epsilon(q, sigma, steps, delta, epsilon_out) =
    @ccall $(fn(:sv_privacy_epsilon))(q::Float64, sigma::Float64, steps::UInt64, delta::Float64,
                                      epsilon_out::Ref{Float64})::Cint

sv_privacy_sigma(q, steps, epsilon, delta, sigma_out) =
    @ccall $(fn(:sv_privacy_sigma))(q::Float64, steps::UInt64, epsilon::Float64, delta::Float64,
                                    sigma_out::Ref{Float64})::Cint

sv_tune(model, raw, valid, target, options_json, analysis, analysis_user, progress, user, cancel,
        result_json) =
    @ccall $(fn(:sv_tune))(model::Ptr{sv_model}, raw::Ptr{sv_table}, valid::Ptr{sv_table},
                           target::Ptr{UInt8}, options_json::Ptr{UInt8}, analysis::Ptr{Cvoid},
                           analysis_user::Ptr{Cvoid}, progress::Ptr{Cvoid}, user::Ptr{Cvoid},
                           cancel::Ptr{sv_cancel}, result_json::Ref{Ptr{sv_bytes}})::Cint

sv_infer(syntheses, m, target, real_rows, result_json) =
    @ccall $(fn(:sv_infer))(syntheses::Ptr{Ptr{sv_table}}, m::Csize_t, target::Cstring,
                            real_rows::Csize_t, result_json::Ref{Ptr{sv_bytes}})::Cint

sv_syn_test(pretrained, data, training, request_json, progress, user, cancel, result_json) =
    @ccall $(fn(:sv_syn_test))(pretrained::Ptr{sv_model}, data::Ptr{sv_table},
                               training::Ptr{sv_table}, request_json::Cstring,
                               progress::Ptr{Cvoid}, user::Ptr{Cvoid}, cancel::Ptr{sv_cancel},
                               result_json::Ref{Ptr{sv_bytes}})::Cint

sv_table_new(out) = @ccall $(fn(:sv_table_new))(out::Ref{Ptr{sv_table}})::Cint

sv_table_add_numeric(table, name, values, n, is_integer) =
    @ccall $(fn(:sv_table_add_numeric))(table::Ptr{sv_table}, name::Cstring,
                                        values::Ptr{Float64}, n::Csize_t, is_integer::Int32)::Cint

sv_table_add_categorical(table, name, codes, n, code_base, na_code, levels, n_levels) =
    @ccall $(fn(:sv_table_add_categorical))(table::Ptr{sv_table}, name::Cstring,
                                            codes::Ptr{Int32}, n::Csize_t, code_base::Int32,
                                            na_code::Int32, levels::Ptr{Ptr{UInt8}},
                                            n_levels::Csize_t)::Cint

sv_table_read_csv(path, out) =
    @ccall $(fn(:sv_table_read_csv))(path::Cstring, out::Ref{Ptr{sv_table}})::Cint

sv_table_write_csv(table, path) =
    @ccall $(fn(:sv_table_write_csv))(table::Ptr{sv_table}, path::Cstring)::Cint

sv_table_n_rows(table, out) =
    @ccall $(fn(:sv_table_n_rows))(table::Ptr{sv_table}, out::Ref{Csize_t})::Cint

sv_table_n_cols(table, out) =
    @ccall $(fn(:sv_table_n_cols))(table::Ptr{sv_table}, out::Ref{Csize_t})::Cint

sv_table_column_name(table, col, buf, buf_len, needed) =
    @ccall $(fn(:sv_table_column_name))(table::Ptr{sv_table}, col::Csize_t, buf::Ptr{UInt8},
                                        buf_len::Csize_t, needed::Ref{Csize_t})::Cint

sv_table_column_kind(table, col, kind, is_integer) =
    @ccall $(fn(:sv_table_column_kind))(table::Ptr{sv_table}, col::Csize_t, kind::Ref{Int32},
                                        is_integer::Ref{Int32})::Cint

sv_table_n_levels(table, col, out) =
    @ccall $(fn(:sv_table_n_levels))(table::Ptr{sv_table}, col::Csize_t, out::Ref{Csize_t})::Cint

sv_table_level(table, col, level, buf, buf_len, needed) =
    @ccall $(fn(:sv_table_level))(table::Ptr{sv_table}, col::Csize_t, level::Csize_t,
                                  buf::Ptr{UInt8}, buf_len::Csize_t, needed::Ref{Csize_t})::Cint

sv_table_get_numeric(table, col, out, n) =
    @ccall $(fn(:sv_table_get_numeric))(table::Ptr{sv_table}, col::Csize_t, out::Ptr{Float64},
                                        n::Csize_t)::Cint

sv_table_get_categorical(table, col, out, n, code_base, na_code) =
    @ccall $(fn(:sv_table_get_categorical))(table::Ptr{sv_table}, col::Csize_t, out::Ptr{Int32},
                                            n::Csize_t, code_base::Int32, na_code::Int32)::Cint

sv_table_schema_json(table, out) =
    @ccall $(fn(:sv_table_schema_json))(table::Ptr{sv_table}, out::Ref{Ptr{sv_bytes}})::Cint

sv_dataset(name, out) = @ccall $(fn(:sv_dataset))(name::Cstring, out::Ref{Ptr{sv_table}})::Cint

sv_dataset_schema_json(name, out) =
    @ccall $(fn(:sv_dataset_schema_json))(name::Cstring, out::Ref{Ptr{sv_bytes}})::Cint

sv_table_free(table) = @ccall $(fn(:sv_table_free))(table::Ptr{sv_table})::Cvoid

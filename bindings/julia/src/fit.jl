# Fitting and fine-tuning: the arguments become one fit request (JSON) for the engine, which
# checks every value and fills every default. Arguments left `nothing` are left out.

"""
    Schema

A public schema (column kinds, level sets and bounds) as JSON text: what `schema(table)` or
`synthvol schema` gives. A private fit needs one that was not derived from the private rows.
"""
struct Schema
    json::String
end

Base.show(io::IO, s::Schema) =
    print(io, "SynthVol.Schema(", length(get(parse_json(s.json), "columns", [])), " columns)")

# A request object as JSON; `verbatim` members are JSON text inserted as they are.
function request_json(args::AbstractDict; verbatim::AbstractDict = Dict{String,String}())
    d = Dict{String,Any}()
    for (k, v) in args
        v === nothing && continue
        d[String(k)] = request_value(String(k), v)
    end
    parts = String[]
    for (k, v) in verbatim
        occursin('\0', v) && argerror("'$k' contains a NUL character")
        push!(parts, JSON.json(k) * ":" * v)
    end
    body = JSON.json(d)
    isempty(parts) && return body
    return "{" * join(parts, ",") * (body == "{}" ? "}" : "," * body[2:end])
end

# A value for the request: numbers, strings, Bools and vectors of them, as they are (the engine
# judges them); anything JSON cannot carry is refused here with the argument's name.
function request_value(name::String, v)
    v isa Union{Bool,Integer,AbstractString,Symbol} && return v isa Symbol ? String(v) : v
    if v isa AbstractFloat
        isfinite(v) || argerror("argument '$name' is $v; give a finite number")
        return v
    end
    v isa AbstractVector && return [request_value(name, x) for x in v]
    v isa CategoricalArrays.CategoricalValue && return String(v)
    ismissing(v) && argerror("argument '$name' is missing")
    argerror("argument '$name' has type $(typeof(v)), which the request cannot carry")
end

# The schema argument as JSON text: a Schema, a file's path or JSON text.
function schema_text(s)
    s isa Schema && return s.json
    if s isa AbstractString
        isfile(s) && return read(s, String)
        startswith(lstrip(s), "{") && return String(s)
        argerror("'schema' is neither a file nor JSON text: $(repr(s))")
    end
    argerror("'schema' must be a Schema (from schema(table)), a schema file's path or its " *
             "JSON text, not a $(typeof(s))")
end

# Runs `f(options)` with an sv_fit_options whose extra_json is `json` (everything else the
# engine's defaults, as sv_fit_options_init sets them).
function with_options(f, json::String)
    occursin('\0', json) && argerror("the request contains a NUL character")
    o = Ref{sv_fit_options}()
    check(sv_fit_options_init(o))
    return GC.@preserve json begin
        v = o[]
        o[] = sv_fit_options(v.struct_size, v.target, v.steps, v.batch_size, v.learning_rate,
                             v.seed, v.threads, v.epsilon, v.delta, v.schema_json,
                             pointer(json))
        f(o)
    end
end

"""
    fit(table; target, steps, batch_size, layers, timesteps, lr, seed, threads, epsilon,
        delta, schema, device, progress, cancel, options...) -> Model

Learns a Tables.jl `table` (a DataFrame, a CSV.File, a NamedTuple of vectors, ...) and returns
a model that generates rows of the same columns and Julia types. Numeric columns (integers,
floats, Date, DateTime), Bool, strings, Symbols and CategoricalArrays (levels and order kept)
are supported, each with `missing` values (learned, never dropped).

Every keyword left `nothing` takes the engine's default: `target` (a column name; a
categorical target conditions generation), `steps` (without DP 500 epochs of the rows, at
most 4000; 4000 for a private fit; with `epochs` the most), `batch_size` (1024), `layers`
([512, 512]; [256, 256] without DP on fewer than 8192 rows, [64, 64] when those rows encode to
at most 12 numeric values and levels), `timesteps` (200; 20 for a private fit), `lr` (0.002), `seed` (0), `threads`
(0: all cores), `device` ("auto", "cpu", "cuda:N"). With `epsilon` the fit is
(epsilon, delta)-differentially private with respect to one row (`delta` 1e-5) and needs a
public `schema` (a `Schema`, a file's path or JSON text). Other options of the fit request
(`precision`: `"input"`, the default, gives numbers at the training values' decimals, `"full"`
every digit; `epochs`: steps from passes over the rows, not for a private fit; `smoothing`:
without DP, the bandwidth of one smoothed copy of each row trained on beside it, 0 to 10, by
default 0 (none); `time_dim`, `weight_decay`, `ema_rate`, `max_grad_norm`, `sample_rate`, `augment`,
`preprocessing_share`, `categorical_weight`, `quantile_map` (a private fit maps its numeric
output onto the noisy quantiles; `true` by default), `pair_share` (with a categorical target,
the share of epsilon spent on the target's pair counts with every other column, which
sampling rakes to; 0.4 below 10,000 rows, else 0), ...) are passed by name; an unknown one is an
error naming it.

`progress` is `true` (a line on stderr), a function `(stage, done, total, loss)` (returning
`true` stops the fit) or `nothing`; Ctrl-C stops the fit within a step and throws
`InterruptException`. `cancel` is a `CancelToken`.
"""
function fit(data; target = nothing, steps = nothing, batch_size = nothing, layers = nothing,
             timesteps = nothing, lr = nothing, seed = nothing, threads = nothing,
             epsilon = nothing, delta = nothing, schema = nothing, device = nothing,
             progress = nothing, cancel::Union{Nothing,CancelToken} = nothing, options...)
    t, meta = to_sv(data)
    args = Dict{String,Any}("target" => target, "steps" => steps, "batch_size" => batch_size,
                            "layers" => layers, "timesteps" => timesteps, "lr" => lr,
                            "seed" => seed, "threads" => threads, "epsilon" => epsilon,
                            "delta" => delta, "device" => device)
    merge_options!(args, options)
    annotations = JSON.json(Dict("julia" => Dict("columns" => [meta_dict(m) for m in meta])))
    verbatim = Dict{String,String}("annotations" => annotations)
    schema === nothing || (verbatim["schema"] = schema_text(schema))
    json = request_json(args; verbatim = verbatim)
    out = Ref{Ptr{sv_model}}(C_NULL)
    st = CallState(progress)
    with_options(json) do o
        with_state(st) do user
            sv_fit(t, o, PROGRESS_C[], user, cancel, out)
        end
    end
    return Model(out[], meta)
end

function merge_options!(args::Dict{String,Any}, options)
    for (k, v) in options
        key = String(k)
        haskey(args, key) && argerror("option '$key' is given twice")
        args[key] = v
    end
    return args
end

"""
    fine_tune(model, table; steps, batch_size, lr, seed, threads, epsilon, delta, device,
              progress, cancel, options...) -> Model

Continues training `model` on `table` (columns and levels matched by name and label): the Syn
workflow's fine-tuning on the small sensitive sample. The network, diffusion steps, target and
column types are the model's; `model` is unchanged. With `epsilon` the guarantee covers the
rows of `table` (the pre-training data are treated as public). Defaults as the engine's:
`steps` 1000, `lr` 0.001. Other options by name, as in `fit`: `epochs`, `holdout`,
`trainable` (`"all"`, `"head"` or `"biases"`: the parameters trained, the others kept as
pre-trained; `"all"` by default, `"biases"` under DP) and `calibrate` (match the level
frequencies to the rows' counts after training, noisy counts under DP; `true` by default under
DP). `progress` and `cancel` as in `fit`.
"""
function fine_tune(model::Model, data; steps = nothing, batch_size = nothing, lr = nothing,
                   seed = nothing, threads = nothing, epsilon = nothing, delta = nothing,
                   device = nothing, progress = nothing,
                   cancel::Union{Nothing,CancelToken} = nothing, options...)
    t, _ = to_sv(data)
    args = Dict{String,Any}("steps" => steps, "batch_size" => batch_size, "lr" => lr,
                            "seed" => seed, "threads" => threads, "epsilon" => epsilon,
                            "delta" => delta, "device" => device)
    merge_options!(args, options)
    json = request_json(args)
    out = Ref{Ptr{sv_model}}(C_NULL)
    st = CallState(progress)
    with_options(json) do o
        with_state(st) do user
            sv_fine_tune(model, t, o, PROGRESS_C[], user, cancel, out)
        end
    end
    return Model(out[], model.columns)
end

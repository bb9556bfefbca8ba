# Privacy accounting, public schemas and the bundled data.

"""
    privacy(model) -> Dict{String,Any}
    privacy(; sample_rate, noise_multiplier, steps, delta = nothing) -> Float64

With a model: what its fit and fine-tunings spent (ε, δ, σ, q, steps, the noise source), as
`synthvol privacy --model` reports it. With a plan: the ε of DP-SGD at that sampling rate,
noise multiplier and step count (Rényi accountant), at `delta` (the engine's default 1e-5 when
`nothing`).
"""
privacy(m::Model) = parse_json(bytes_result(out -> sv_model_privacy_json(m, out)))

function privacy(; sample_rate::Real, noise_multiplier::Real, steps::Integer, delta = nothing)
    count_value("steps", steps)
    eps = Ref{Float64}(0)
    # the C ABI takes delta as a number; 0 asks for the engine's default
    check(sv_privacy_epsilon(Float64(sample_rate), Float64(noise_multiplier), UInt64(steps),
                             delta === nothing ? 0.0 : Float64(delta), eps))
    return eps[]
end

"""
    privacy_sigma(; sample_rate, steps, epsilon, delta = nothing) -> Float64

The smallest noise multiplier (within 1%) whose ε after `steps` steps at `sample_rate` is at
most `epsilon`; a `SynthVolError` says so when none can meet it.
"""
function privacy_sigma(; sample_rate::Real, steps::Integer, epsilon::Real, delta = nothing)
    count_value("steps", steps)
    sigma = Ref{Float64}(0)
    check(sv_privacy_sigma(Float64(sample_rate), UInt64(steps), Float64(epsilon),
                           delta === nothing ? 0.0 : Float64(delta), sigma))
    return sigma[]
end

"""
    schema(table) -> Schema
    schema(name::AbstractString) -> Schema

The schema (column kinds, level sets, bounds) of a Tables.jl `table`, as `synthvol schema`
writes it, or of a bundled data set (`"adult"`). A schema derived from private rows is not
public: review it before using it for a private fit.
"""
function schema(name::AbstractString)
    Schema(bytes_result(out -> sv_dataset_schema_json(c_text(name, "the data set's name"), out)))
end

function schema(data)
    t, _ = to_sv(data)
    return Schema(bytes_result(out -> sv_table_schema_json(t, out)))
end

"""
    adult() -> (train = NamedTuple, test = NamedTuple)

The bundled Adult census data (income above 50K as the target), its training and test split,
as column tables with categorical columns as CategoricalArrays.
"""
function adult()
    load_set(name) = begin
        out = Ref{Ptr{sv_table}}(C_NULL)
        check(sv_dataset(name, out))
        from_sv(CTable(out[]), nothing)
    end
    return (train = load_set("adult_train"), test = load_set("adult_test"))
end

# Models: a handle with a finalizer, the library's description of it, and the Julia column
# types it learned from; files, bytes and Serialization.

"""
    Model

A fitted synthvol model (immutable: fine-tuning returns a new one). Sample from it with
`sample`, describe it with `info`, keep it with `save` or `Serialization.serialize` (which
stores the library's own bytes). Any number of threads may sample from one model at once.
"""
mutable struct Model
    ptr::Ptr{sv_model}
    columns::Union{Nothing,Vector{ColumnMeta}}
    info::Dict{String,Any}
    function Model(ptr::Ptr{sv_model}, columns)
        m = new(ptr, nothing, Dict{String,Any}())
        finalizer(free!, m)
        m.info = parse_json(bytes_result(out -> sv_model_info_json(m, out)))
        m.columns = columns === nothing ? columns_of(m.info) : columns
        return m
    end
end

function free!(m::Model)
    p = m.ptr
    m.ptr = Ptr{sv_model}(C_NULL)
    if p != C_NULL
        try
            sv_model_free(p)
        catch
        end
    end
    return nothing
end

Base.cconvert(::Type{Ptr{sv_model}}, m::Model) = m
Base.unsafe_convert(::Type{Ptr{sv_model}}, m::Model) = m.ptr

# JSON text from the library as Dicts and Vectors.
parse_json(text::AbstractString) = JSON.parse(text; dicttype = Dict{String,Any})

# The Julia column types a model keeps (its "julia" annotation), or nothing for a model fitted
# elsewhere (the CLI, R).
function columns_of(info::AbstractDict)
    ann = get(get(info, "training", Dict()), "annotations", nothing)
    ann isa AbstractDict || return nothing
    jl = get(ann, "julia", nothing)
    jl isa AbstractDict || return nothing
    cols = get(jl, "columns", nothing)
    cols isa AbstractVector || return nothing
    return ColumnMeta[meta_from_dict(c) for c in cols]
end

"""
    info(model) -> Dict{String,Any}

The library's description of `model` (what `synthvol info --json` prints): schema, target,
network, training record with the loss history, privacy, versions.
"""
info(m::Model) = m.info

function Base.show(io::IO, m::Model)
    t = get(m.info, "training", Dict{String,Any}())
    target = get(m.info, "target", nothing)
    print(io, "SynthVol.Model(", get(t, "n_rows", "?"), " rows, ",
          length(get(m.info, "schema", [])), " columns",
          target === nothing ? "" : ", target $(target)", ")")
end

"""
    save(model, path)

Writes `model` to `path` (the `.svmodel` format the CLI reads), atomically: a failed write
leaves any earlier file intact.
"""
function save(m::Model, path::AbstractString)
    check(sv_model_save(m, c_text(path, "the path")))
    return path
end

"""
    load(path) -> Model

Reads a model written by `save`, the CLI or any other binding; a damaged file or one from a
newer version is a `SynthVolError` with code `:format`.
"""
function load(path::AbstractString)
    out = Ref{Ptr{sv_model}}(C_NULL)
    check(sv_model_load(c_text(path, "the path"), out))
    return Model(out[], nothing)
end

"""
    model_bytes(model) -> Vector{UInt8}

The model in the library's file format (what `save` writes).
"""
model_bytes(m::Model) = take_bytes_result(out -> sv_model_to_bytes(m, out))

function take_bytes_result(f)
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    check(f(out))
    return take_bytes(out[])
end

"""
    model_from_bytes(bytes::AbstractVector{UInt8}) -> Model

A model from the bytes `model_bytes` gave; anything else is a `SynthVolError` (`:format`).
"""
function model_from_bytes(bytes::AbstractVector{UInt8})
    b = Vector{UInt8}(bytes)
    out = Ref{Ptr{sv_model}}(C_NULL)
    check(sv_model_from_bytes(b, length(b), out))
    return Model(out[], nothing)
end

# Serialization stores the library's bytes, never the pointer.
function Serialization.serialize(s::Serialization.AbstractSerializer, m::Model)
    Serialization.serialize_type(s, Model)
    Serialization.serialize(s, model_bytes(m))
end

function Serialization.deserialize(s::Serialization.AbstractSerializer, ::Type{Model})
    bytes = Serialization.deserialize(s)
    bytes isa Vector{UInt8} ||
        throw(SynthVolError(SV_E_FORMAT, :format, "the serialized model holds no model bytes"))
    return model_from_bytes(bytes)
end

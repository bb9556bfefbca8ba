# Tables.jl tables to the library's columns and back, with the Julia column types kept.
# Numeric columns cross as Float64 (missing as NaN, the library's missing value); categorical
# arrays as their level codes (code_base 1, missing 0) with their levels in order; Bool and
# string (or Symbol) columns as categorical; Date as days and DateTime as seconds since
# 1970-01-01. A fitted model keeps each column's Julia type in its "julia" annotation, so
# `sample` gives back the types it learned from.

# What a column was in Julia, to restore it.
struct ColumnMeta
    name::String
    kind::Symbol          # :categorical, :bool, :string, :symbol, :int, :float, :date, :datetime
    eltype::String        # :int and :float: the element type's name ("Int64", "Float32", ...)
    levels::Vector{String}  # :categorical: the levels in order
    ordered::Bool         # :categorical: an ordered CategoricalArray
    missing::Bool         # the column's element type admits `missing`
end

const INT_TYPES = Dict{String,DataType}(string(T) => T for T in
    (Int8, Int16, Int32, Int64, Int128, UInt8, UInt16, UInt32, UInt64, UInt128))
const FLOAT_TYPES = Dict{String,DataType}(string(T) => T for T in (Float16, Float32, Float64))
const EPOCH_DATE = Date(1970, 1, 1)
const EPOCH_DATETIME = DateTime(1970, 1, 1)

meta_dict(m::ColumnMeta) = Dict{String,Any}("name" => m.name, "kind" => String(m.kind),
                                            "eltype" => m.eltype, "levels" => m.levels,
                                            "ordered" => m.ordered, "missing" => m.missing)

function meta_from_dict(d::AbstractDict)
    ColumnMeta(String(d["name"]), Symbol(d["kind"]), String(get(d, "eltype", "")),
               String[String(x) for x in get(d, "levels", String[])],
               Bool(get(d, "ordered", false)), Bool(get(d, "missing", false)))
end

# Checks a name or label for the C side: UTF-8 text without NUL.
function c_text(s::AbstractString, what::AbstractString)
    str = String(s)
    isvalid(str) || throw(SynthVolError(SV_E_UTF8, :utf8, "$what is not valid UTF-8"))
    occursin('\0', str) && argerror("$what contains a NUL character")
    return str
end

"""
    to_sv(data, what = "data") -> (CTable, Vector{ColumnMeta})

The library table of a Tables.jl table, column by column, and each column's Julia metadata.
"""
function to_sv(data, what::AbstractString = "data")
    if !Tables.istable(data)
        argerror("'$what' must be a Tables.jl table (a DataFrame, a CSV.File, a NamedTuple " *
                 "of vectors, ...), not a $(typeof(data))")
    end
    cols = Tables.columns(data)
    t = CTable()
    meta = ColumnMeta[]
    for nm in Tables.columnnames(cols)
        name = c_text(string(nm), "a column name of '$what'")
        push!(meta, add_column!(t, name, Tables.getcolumn(cols, nm)))
    end
    return t, meta
end

function add_numeric!(t::CTable, name::String, values::Vector{Float64}, integer::Bool)
    check(sv_table_add_numeric(t, name, values, length(values), Int32(integer)))
end

function add_codes!(t::CTable, name::String, codes::Vector{Int32}, levels::Vector{String})
    # `const char *const *levels`: the labels' own bytes, kept alive for the call
    ptrs = Ptr{UInt8}[pointer(l) for l in levels]
    status = GC.@preserve levels sv_table_add_categorical(t, name, codes, length(codes),
                                                          Int32(1), Int32(0), ptrs,
                                                          length(levels))
    check(status)
end

# The CategoricalArray holding a column's levels: the column itself, or the parent of a view
# of one (a DataFrame view's column), else nothing.
categorical_parent(col) =
    col isa CategoricalArrays.CategoricalArray ? col :
    col isa SubArray && parent(col) isa CategoricalArrays.CategoricalArray ? parent(col) :
    nothing

function add_column!(t::CTable, name::String, col)
    col isa AbstractVector ||
        argerror("column '$name' is a $(typeof(col)), not a vector")
    T = eltype(col)
    S = nonmissingtype(T)
    has_missing = T !== S
    pool = categorical_parent(col)
    if pool !== nothing
        lv = [c_text(string(l), "a level of column '$name'") for l in levels(pool)]
        codes = Int32[ismissing(v) ? 0 : levelcode(v) for v in col]
        add_codes!(t, name, codes, lv)
        return ColumnMeta(name, :categorical, "", lv, isordered(pool), has_missing)
    elseif S === Union{}
        # only `missing`: a numeric column without values, for the engine to judge
        add_numeric!(t, name, fill(NaN, length(col)), false)
        return ColumnMeta(name, :float, "Float64", String[], false, true)
    elseif S <: Bool
        codes = Int32[ismissing(v) ? 0 : (v ? 2 : 1) for v in col]
        add_codes!(t, name, codes, ["false", "true"])
        return ColumnMeta(name, :bool, "", String[], false, has_missing)
    elseif S <: Integer
        v = Float64[ismissing(x) ? NaN : Float64(x) for x in col]
        add_numeric!(t, name, v, true)
        return ColumnMeta(name, :int, string(S), String[], false, has_missing)
    elseif S <: AbstractFloat
        v = Float64[ismissing(x) ? NaN : Float64(x) for x in col]
        finite = filter(isfinite, v)
        whole = !isempty(finite) && all(isinteger, finite)
        add_numeric!(t, name, v, whole)
        return ColumnMeta(name, :float, string(S), String[], false, has_missing)
    elseif S <: Real
        v = Float64[ismissing(x) ? NaN : Float64(x) for x in col]
        add_numeric!(t, name, v, false)
        return ColumnMeta(name, :float, "Float64", String[], false, has_missing)
    elseif S <: DateTime
        v = Float64[ismissing(x) ? NaN : Dates.value(x - EPOCH_DATETIME) / 1000 for x in col]
        add_numeric!(t, name, v, false)
        return ColumnMeta(name, :datetime, "", String[], false, has_missing)
    elseif S <: Date
        v = Float64[ismissing(x) ? NaN : Float64(Dates.value(x - EPOCH_DATE)) for x in col]
        add_numeric!(t, name, v, true)
        return ColumnMeta(name, :date, "", String[], false, has_missing)
    elseif S <: Union{AbstractString,Symbol}
        strs = [ismissing(x) ? missing : c_text(string(x), "a value of column '$name'") for x in col]
        lv = sort!(unique(skipmissing(strs)))
        index = Dict{String,Int32}(l => Int32(i) for (i, l) in enumerate(lv))
        codes = Int32[ismissing(x) ? 0 : index[x] for x in strs]
        add_codes!(t, name, codes, lv)
        return ColumnMeta(name, S <: Symbol ? :symbol : :string, "", String[], false, has_missing)
    elseif S === Any || S isa Union
        # a loosely typed column (Vector{Any}): judged by its values' common type
        narrowed = identity.(collect(col))
        if eltype(narrowed) !== T
            return add_column!(t, name, narrowed)
        end
    end
    argerror("column '$name' has element type $T, which synthvol cannot model (supported: " *
             "real numbers, Bool, strings, Symbols, CategoricalArray, Date and DateTime, each " *
             "with missing values)")
end

# ---- back from the library ----------------------------------------------------------------

# A string the library writes into a caller's buffer: asks for the size, then fills it.
function text_of(f)
    needed = Ref{Csize_t}(0)
    check(f(Ptr{UInt8}(C_NULL), 0, needed))
    buf = Vector{UInt8}(undef, needed[])
    return GC.@preserve buf begin
        check(f(pointer(buf), length(buf), needed))
        unsafe_string(pointer(buf))
    end
end

"""
    from_sv(table, columns) -> NamedTuple of vectors

A column table (`DataFrame(...)` accepts it) of a library table, each column restored to the
Julia type in `columns` (the model's metadata; `nothing` gives the library's kinds: a
CategoricalArray, Int64 or Float64).
"""
function from_sv(t, columns)
    nrow = Ref{Csize_t}(0)
    ncol = Ref{Csize_t}(0)
    check(sv_table_n_rows(t, nrow))
    check(sv_table_n_cols(t, ncol))
    n = Int(nrow[])
    bymeta = Dict{String,ColumnMeta}()
    columns === nothing || foreach(m -> bymeta[m.name] = m, columns)
    names = Symbol[]
    values = Any[]
    for j in 0:(Int(ncol[]) - 1)
        name = text_of((b, l, need) -> sv_table_column_name(t, j, b, l, need))
        kind = Ref{Int32}(0)
        integer = Ref{Int32}(0)
        check(sv_table_column_kind(t, j, kind, integer))
        m = get(bymeta, name, nothing)
        if kind[] == SV_NUMERIC
            v = Vector{Float64}(undef, n)
            check(sv_table_get_numeric(t, j, v, n))
            push!(values, restore_numeric(v, integer[] != 0, m))
        else
            codes = Vector{Int32}(undef, n)
            check(sv_table_get_categorical(t, j, codes, n, Int32(1), Int32(0)))
            k = Ref{Csize_t}(0)
            check(sv_table_n_levels(t, j, k))
            lv = [text_of((b, l, need) -> sv_table_level(t, j, i, b, l, need))
                  for i in 0:(Int(k[]) - 1)]
            push!(values, restore_categorical(codes, lv, m))
        end
        push!(names, Symbol(name))
    end
    return NamedTuple{Tuple(names)}(Tuple(values))
end

# A vector with `missing` where `miss` is set, typed Union{Missing,T} when the original column
# admitted missing values or some are missing, else T.
function with_missing(::Type{T}, miss::BitVector, value, allow::Bool) where {T}
    if allow || any(miss)
        out = Vector{Union{Missing,T}}(undef, length(miss))
        for i in eachindex(miss)
            out[i] = miss[i] ? missing : value(i)
        end
        return out
    end
    return T[value(i) for i in eachindex(miss)]
end

# A generated value as integer type T: rounded, and held to T's range (Float64(typemax(T))
# may round up past it).
function to_int(::Type{T}, x::Float64) where {T<:Integer}
    r = round(x)
    r <= Float64(typemin(T)) && return typemin(T)
    r >= Float64(typemax(T)) && return typemax(T)
    return T(r)
end

function restore_numeric(v::Vector{Float64}, integer::Bool, m)
    miss = isnan.(v)
    kind = m === nothing ? (integer ? :int : :float) : m.kind
    allow = m === nothing ? false : m.missing
    if kind === :int
        T = m === nothing ? Int64 : get(INT_TYPES, m.eltype, Int64)
        return with_missing(T, miss, i -> to_int(T, v[i]), allow)
    elseif kind === :date
        return with_missing(Date, miss, i -> EPOCH_DATE + Day(round(Int64, v[i])), allow)
    elseif kind === :datetime
        return with_missing(DateTime, miss,
                            i -> EPOCH_DATETIME + Millisecond(round(Int64, v[i] * 1000)), allow)
    else
        T = m === nothing ? Float64 : get(FLOAT_TYPES, m.eltype, Float64)
        return with_missing(T, miss, i -> T(v[i]), allow)
    end
end

function restore_categorical(codes::Vector{Int32}, lv::Vector{String}, m)
    miss = BitVector(codes .== 0)
    kind = m === nothing ? :categorical : m.kind
    allow = m === nothing ? false : m.missing
    label(i) = lv[codes[i]]
    if kind === :bool
        return with_missing(Bool, miss, i -> label(i) == "true", allow)
    elseif kind === :string
        return with_missing(String, miss, label, allow)
    elseif kind === :symbol
        return with_missing(Symbol, miss, i -> Symbol(label(i)), allow)
    end
    # categorical: the fitted data's levels in their order, then any the model added
    order = m === nothing ? lv : vcat(m.levels, setdiff(lv, m.levels))
    ordered = m === nothing ? false : m.ordered
    plain = with_missing(String, miss, label, allow || any(miss))
    return categorical(plain; levels = order, ordered = ordered)
end

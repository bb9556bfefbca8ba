# Sampling: rows of a sample by range (the same values whatever the range, batch or threads),
# streamed in blocks to a Julia function, and the shard ranges for splitting one sample.

# A seed: `nothing` draws one from Julia's default RNG (so Random.seed! reproduces a run).
function seed_value(seed)
    seed === nothing && return UInt64(Random.rand(UInt32))
    (seed isa Integer && seed >= 0) ||
        argerror("'seed' must be a non-negative integer, got $(repr(seed))")
    return UInt64(seed)
end

function count_value(name::String, n)
    (n isa Integer && n >= 0) || argerror("'$name' must be a non-negative integer, got $(repr(n))")
    return n
end

function sample_options(threads, batch_size, device, labels, n)
    args = Dict{String,Any}("threads" => threads, "batch_size" => batch_size,
                            "device" => device)
    if labels !== nothing && !(labels isa AbstractVector)
        ismissing(labels) && argerror("'labels' is missing")
        args["label"] = string(labels)  # one class for every row
    elseif labels !== nothing
        length(labels) == n ||
            argerror("'labels' has $(length(labels)) values for $n rows; give one per row")
        any(ismissing, labels) && argerror("'labels' has missing values")
        args["labels"] = [string(l) for l in labels]
    end
    return request_json(args)
end

"""
    sample(model, n; seed, start = 0, labels, threads, batch_size, device, progress, cancel)
        -> NamedTuple of vectors

Draws `n` synthetic rows as a column table (`DataFrame(sample(m, n))` makes a DataFrame), each
column of the Julia type the model learned from. The same `seed` gives the same rows whatever
`threads` or `batch_size`; rows `start + 1 : start + n` of a sample are the same values
whichever range is asked for, so a large sample can be drawn in pieces (see `shard`).
`seed = nothing` draws a seed from Julia's default RNG. `labels` (a vector, one per row, or
one value for every row) fixes the target's values for a model with a categorical target. `progress` and `cancel` as in `fit`.
"""
function sample(model::Model, n::Integer; seed = nothing, start::Integer = 0, labels = nothing,
                threads = nothing, batch_size = nothing, device = nothing, progress = nothing,
                cancel::Union{Nothing,CancelToken} = nothing)
    count_value("n", n)
    count_value("start", start)
    s = seed_value(seed)
    json = sample_options(threads, batch_size, device, labels, n)
    out = Ref{Ptr{sv_table}}(C_NULL)
    st = CallState(progress)
    with_state(st) do user
        sv_sample_range(model, s, UInt64(start), Csize_t(n), json, PROGRESS_C[], user, cancel,
                        out)
    end
    t = CTable(out[])
    return from_sv(t, model.columns)
end

"""
    sample(f, model, n; seed, start = 0, threads, batch_size, device, progress, cancel)

Streams `n` rows (any number: memory stays bounded) to `f`, a block of rows at a time as a
column table, in row order; the rows are those `sample(model, n; seed, start)` would give.
`f` returning `true` stops the sampling (a `SynthVolError` with code `:cancelled`).
"""
function sample(f::Function, model::Model, n::Integer; seed = nothing, start::Integer = 0,
                threads = nothing, batch_size = nothing, device = nothing, progress = nothing,
                cancel::Union{Nothing,CancelToken} = nothing)
    count_value("n", n)
    count_value("start", start)
    s = seed_value(seed)
    json = sample_options(threads, batch_size, device, nothing, n)
    st = CallState(progress; sink = f, columns = model.columns)
    with_state(st) do user
        sv_sample_stream(model, s, UInt64(start), UInt64(n), json, ROWS_C[], user,
                         PROGRESS_C[], user, cancel)
    end
    return nothing
end

"""
    shard(rows, i, k) -> (start, count)

The rows of shard `i` (0-based) of `k` of a sample of `rows` rows: run
`sample(model, count; seed, start)` for each shard (for example one per array job) and
concatenate them in order to get the single run's rows.
"""
function shard(rows::Integer, i::Integer, k::Integer)
    (rows >= 0 && i >= 0 && k >= 0) || argerror("'rows', 'i' and 'k' must be non-negative")
    start = Ref{UInt64}(0)
    count = Ref{UInt64}(0)
    check(sv_shard_range(UInt64(rows), UInt64(i), UInt64(k), start, count))
    return (Int(start[]), Int(count[]))
end

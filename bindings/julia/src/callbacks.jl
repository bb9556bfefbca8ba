# The library's callbacks into Julia: progress, a caller's analysis (tune), the rows of a
# streamed sample, and log notices. The library calls each on the thread that made the call.
# No exception ever unwinds through the library: each callback catches what it raises, stops
# the call (a non-zero return), and the exception is raised again once the library returned.
# Ctrl-C (an InterruptException at a safepoint inside a callback) becomes a cancel the same way.

# What one call's callbacks share; passed to the library as the `user` pointer.
mutable struct CallState
    progress::Any          # nothing, or f(stage, done, total, loss)
    analysis::Any          # nothing, or f(train, valid) -> error (tune)
    sink::Any              # nothing, or f(rows) (streamed sampling)
    columns::Any           # the model's column metadata, to restore callback tables
    error::Any             # nothing, or (exception, backtrace) raised inside a callback
    last::Float64          # when the progress function last ran
end

CallState(progress = nothing; analysis = nothing, sink = nothing, columns = nothing) =
    CallState(progress_function(progress), analysis, sink, columns, nothing, -Inf)

# The progress argument as a function or nothing: `true` prints to stderr.
function progress_function(p)
    p === nothing && return nothing
    p === false && return nothing
    p === true && return print_progress
    p isa Function && return p
    argerror("'progress' must be true, false, nothing or a function(stage, done, total, loss)")
end

function print_progress(stage, done, total, loss)
    msg = isnan(loss) ? "$stage: $done/$total" : "$stage: $done/$total (loss $(round(loss; sigdigits = 4)))"
    print(stderr, "\r", msg, done == total ? "\n" : "")
    return nothing
end

# A callback's return value that asks to stop: `true` or a non-zero integer.
wants_stop(r) = r === true || (r isa Integer && !(r isa Bool) && r != 0)

function remember!(st::CallState, e)
    st.error === nothing && (st.error = (e, catch_backtrace()))
    return Int32(1)
end

function progress_cb(user::Ptr{Cvoid}, stage::Cstring, done::UInt64, total::UInt64,
                     loss::Float64)::Int32
    st = unsafe_pointer_to_objref(user)::CallState
    try
        GC.safepoint() # lets a pending Ctrl-C arrive here, where it becomes a cancel
        f = st.progress
        f === nothing && return Int32(0)
        t = time()
        if done == total || t - st.last >= 0.1
            st.last = t
            wants_stop(f(unsafe_string(stage), Int(done), Int(total), loss)) && return Int32(1)
        end
        return Int32(0)
    catch e
        return remember!(st, e)
    end
end

function analysis_cb(user::Ptr{Cvoid}, train::Ptr{sv_table}, valid::Ptr{sv_table},
                     err::Ptr{Float64})::Int32
    st = unsafe_pointer_to_objref(user)::CallState
    try
        GC.safepoint()
        e = st.analysis(from_sv(train, st.columns), from_sv(valid, st.columns))
        if !(e isa Real) || !isfinite(e)
            argerror("the analysis function must return a finite number (the error to " *
                     "minimise), got $(repr(e))")
        end
        unsafe_store!(err, Float64(e))
        return Int32(0)
    catch e
        return remember!(st, e)
    end
end

function rows_cb(user::Ptr{Cvoid}, rows::Ptr{sv_table})::Int32
    st = unsafe_pointer_to_objref(user)::CallState
    try
        GC.safepoint()
        return wants_stop(st.sink(from_sv(rows, st.columns))) ? Int32(1) : Int32(0)
    catch e
        return remember!(st, e)
    end
end

# Notices the library logs during a call (levels a fine-tuning added, ...), shown after it.
const NOTICES = Tuple{Int32,String}[]
const NOTICES_LOCK = Threads.SpinLock() # never yields, as a callback must not

function log_cb(user::Ptr{Cvoid}, level::Int32, message::Cstring)::Cvoid
    try
        m = unsafe_string(message)
        lock(NOTICES_LOCK)
        try
            push!(NOTICES, (level, m))
        finally
            unlock(NOTICES_LOCK)
        end
    catch
    end
    return nothing
end

function emit_notices()
    lock(NOTICES_LOCK)
    items = copy(NOTICES)
    empty!(NOTICES)
    unlock(NOTICES_LOCK)
    for (level, m) in items
        level >= SV_LOG_WARNING ? (@warn m) : (@info m)
    end
    return nothing
end

const PROGRESS_C = Ref{Ptr{Cvoid}}(C_NULL)
const ANALYSIS_C = Ref{Ptr{Cvoid}}(C_NULL)
const ROWS_C = Ref{Ptr{Cvoid}}(C_NULL)
const LOG_C = Ref{Ptr{Cvoid}}(C_NULL)

# The C function pointers, made at load time (a pointer from precompilation would be stale).
function init_callbacks()
    PROGRESS_C[] = @cfunction(progress_cb, Int32, (Ptr{Cvoid}, Cstring, UInt64, UInt64, Float64))
    ANALYSIS_C[] = @cfunction(analysis_cb, Int32,
                              (Ptr{Cvoid}, Ptr{sv_table}, Ptr{sv_table}, Ptr{Float64}))
    ROWS_C[] = @cfunction(rows_cb, Int32, (Ptr{Cvoid}, Ptr{sv_table}))
    LOG_C[] = @cfunction(log_cb, Cvoid, (Ptr{Cvoid}, Int32, Cstring))
    check(sv_set_log_callback(LOG_C[], SV_LOG_INFO, C_NULL))
    return nothing
end

# Runs `f(user)` with `st` rooted and passed as the callbacks' user pointer, then raises what a
# callback raised (an interrupt as itself, anything else with its backtrace), or the library's
# error, or shows the notices.
function with_state(f, st::CallState)
    status = GC.@preserve st f(pointer_from_objref(st))
    if st.error !== nothing && status != SV_OK
        emit_notices()
        e, bt = st.error
        e isa InterruptException && throw(e)
        e isa SynthVolError && throw(e)
        throw(CapturedException(e, bt))
    end
    emit_notices()
    check(status)
    return nothing
end

# Owned library handles: a mutable struct per handle kind whose finalizer frees it and never
# throws. ccall roots the Julia object for the duration of a call (cconvert returns it), so a
# handle is never freed while the library uses it.

# A library table (sv_table) this package created or received.
mutable struct CTable
    ptr::Ptr{sv_table}
    function CTable(ptr::Ptr{sv_table})
        t = new(ptr)
        finalizer(free!, t)
        return t
    end
end

# An empty library table.
function CTable()
    out = Ref{Ptr{sv_table}}(C_NULL)
    check(sv_table_new(out))
    return CTable(out[])
end

function free!(t::CTable)
    p = t.ptr
    t.ptr = Ptr{sv_table}(C_NULL)
    if p != C_NULL
        try
            sv_table_free(p)
        catch
            # a finalizer never throws (the library may already be closed at exit)
        end
    end
    return nothing
end

Base.cconvert(::Type{Ptr{sv_table}}, t::CTable) = t
Base.unsafe_convert(::Type{Ptr{sv_table}}, t::CTable) = t.ptr

"""
    CancelToken()

A token that stops a running call from another task or thread: pass it as `cancel = token`
to `fit`, `fine_tune`, `sample`, `evaluate`, `tune` or `syn_test` and call `cancel!(token)`;
the call then throws a `SynthVolError` with code `:cancelled`. A token stays set once set.
"""
mutable struct CancelToken
    ptr::Ptr{sv_cancel}
    function CancelToken()
        out = Ref{Ptr{sv_cancel}}(C_NULL)
        check(sv_cancel_new(out))
        t = new(out[])
        finalizer(t) do x
            p = x.ptr
            x.ptr = Ptr{sv_cancel}(C_NULL)
            if p != C_NULL
                try
                    sv_cancel_free(p)
                catch
                end
            end
        end
        return t
    end
end

Base.cconvert(::Type{Ptr{sv_cancel}}, t::CancelToken) = t
Base.unsafe_convert(::Type{Ptr{sv_cancel}}, t::CancelToken) = t.ptr
Base.cconvert(::Type{Ptr{sv_cancel}}, ::Nothing) = Ptr{sv_cancel}(C_NULL)

"""
    cancel!(token::CancelToken)

Asks every call running with `token` to stop (safe from any task or thread).
"""
function cancel!(t::CancelToken)
    GC.@preserve t sv_cancel_request(t.ptr)
    return nothing
end

# Copies out and frees an sv_bytes handle the library returned.
function take_bytes(p::Ptr{sv_bytes})
    try
        n = Int(sv_bytes_len(p))
        d = sv_bytes_data(p)
        return n == 0 ? UInt8[] : copy(unsafe_wrap(Array, d, n))
    finally
        sv_bytes_free(p)
    end
end

take_string(p::Ptr{sv_bytes}) = String(take_bytes(p))

# Calls `f(out)` with a fresh out-pointer for bytes, checks the status, returns the text.
function bytes_result(f)
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    check(f(out))
    return take_string(out[])
end

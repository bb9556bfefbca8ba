# Errors: every failure of a library call, and every argument this package refuses before a
# call, is a SynthVolError carrying the library's status and message.

"""
    SynthVolError(status, code, message)

An error from synthvol: `status` is the C ABI's status (`SV_E_*`), `code` its name as a
`Symbol` (`:invalid_argument`, `:data`, `:format`, `:io`, `:cancelled`, `:numerical`, `:utf8`,
`:device`, `:resources`, `:panic`, ...) and `message` the library's explanation, which names the
option, column or limit at fault.
"""
struct SynthVolError <: Exception
    status::Int32
    code::Symbol
    message::String
end

const STATUS_CODES = Dict{Int32,Symbol}(
    SV_E_NULL => :null,
    SV_E_INVALID_ARGUMENT => :invalid_argument,
    SV_E_DATA => :data,
    SV_E_FORMAT => :format,
    SV_E_IO => :io,
    SV_E_CANCELLED => :cancelled,
    SV_E_NUMERICAL => :numerical,
    SV_E_UTF8 => :utf8,
    SV_E_BUFFER_TOO_SMALL => :buffer_too_small,
    SV_E_PANIC => :panic,
    SV_E_DEVICE => :device,
    SV_E_RESOURCES => :resources,
)

function Base.showerror(io::IO, e::SynthVolError)
    print(io, "SynthVolError (", e.code, "): ", e.message)
end

# The message of the last failed call on this thread.
last_error() = unsafe_string(sv_last_error())

# Throws the library's error unless `status` is SV_OK.
function check(status::Integer)
    status == SV_OK && return nothing
    s = Int32(status)
    throw(SynthVolError(s, get(STATUS_CODES, s, :unknown), last_error()))
end

# An argument this package refuses before calling the library (what the library would call
# an invalid argument).
argerror(message::AbstractString) =
    throw(SynthVolError(SV_E_INVALID_ARGUMENT, :invalid_argument, String(message)))

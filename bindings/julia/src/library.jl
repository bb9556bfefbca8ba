# Finding and opening libsynthvol at load time (never baked in at precompile time), and the
# ABI check: a library built for another ABI is an error on load, not a crash later.

# The candidates, in order: SYNTHVOL_LIB, the repository's build, the system's library path.
function library_candidates()
    out = String[]
    env = get(ENV, "SYNTHVOL_LIB", "")
    isempty(env) || push!(out, env)
    repo = normpath(joinpath(@__DIR__, "..", "..", ".."))
    for dir in ("target/release", "target/debug")
        push!(out, joinpath(repo, dir, "libsynthvol." * Libdl.dlext))
    end
    push!(out, "libsynthvol." * Libdl.dlext * (Sys.islinux() ? ".1" : ""))
    push!(out, "libsynthvol")
    return out
end

function open_library()
    env = get(ENV, "SYNTHVOL_LIB", "")
    if !isempty(env) && !isfile(env)
        error("SYNTHVOL_LIB is set to '$env', which is not a file; point it at libsynthvol." *
              Libdl.dlext)
    end
    tried = String[]
    for c in library_candidates()
        # A path that names no file is skipped; a bare name goes to the system's search.
        (occursin('/', c) && !isfile(c)) && continue
        h = Libdl.dlopen(c, Libdl.RTLD_LAZY | Libdl.RTLD_LOCAL; throw_error = false)
        if h === nothing
            push!(tried, c)
            continue
        end
        LIB[] = h
        LIB_PATH[] = occursin('/', c) ? c : something(Libdl.dlpath(h), c)
        abi = sv_abi_version()
        if abi != SV_ABI_VERSION
            LIB[] = C_NULL
            Libdl.dlclose(h)
            error("the synthvol library at $(LIB_PATH[]) has C ABI $abi but this package was " *
                  "written for ABI $(Int(SV_ABI_VERSION)): install the matching library or " *
                  "the matching SynthVol.jl")
        end
        return nothing
    end
    error("cannot find libsynthvol: set SYNTHVOL_LIB to its path, build it with `cargo build " *
          "--release` in the repository, or install it on the library path" *
          (isempty(tried) ? "" : " (tried: " * join(tried, ", ") * ")"))
end

"""
    SynthVol.libpath() -> String

The path of the synthvol library this session loaded.
"""
libpath() = LIB_PATH[]

"""
    SynthVol.version() -> VersionNumber

The version of the loaded synthvol library.
"""
version() = VersionNumber(unsafe_string(sv_version()))

"""
    SynthVol

synthvol for Julia: learn any Tables.jl table with a tabular diffusion model (TabDDPM),
optionally under differential privacy, and generate synthetic rows from it; fine-tune a
pre-trained model on small sensitive data, tune the synthetic volume with a Julia analysis and
analyse synthetic data honestly (the Syn workflow).

The package is glue over synthvol's C ABI (`include/synthvol.h`): the engine checks every
option and holds every default; arguments left `nothing` are left to it.

The library is found when the package loads: the `SYNTHVOL_LIB` environment variable (a path to
`libsynthvol.so`), then the repository's `target/release`, then the system's library path.
"""
module SynthVol

using CategoricalArrays
using Dates
import JSON
import Libdl
import Random
import Serialization
import Tables

export SynthVolError, Model, Schema, CancelToken
export fit, fine_tune, sample, evaluate, tune, infer, syn_test, privacy, privacy_sigma
export schema, adult, save, load, model_bytes, model_from_bytes, info, shard, cancel!

include("capi.jl")
include("errors.jl")
include("library.jl")
include("handles.jl")
include("callbacks.jl")
include("columns.jl")
include("model.jl")
include("fit.jl")
include("sample.jl")
include("syn.jl")
include("misc.jl")

function __init__()
    open_library()
    init_callbacks()
end

end # module

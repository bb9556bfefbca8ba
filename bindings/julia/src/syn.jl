# The Syn workflow and the evaluation report: tuning the synthetic volume (with the built-in
# analysis or any Julia function), inference from syntheses, the Syn-Test, and evaluate.
# Results are the library's JSON as Dict{String,Any} (keys as in docs/evaluation.md and the
# CLI's --json output).

"""
    evaluate(real, synthetic; holdout, target, seed, threads, progress, cancel, options...)
        -> Dict{String,Any}

The evaluation report of `synthetic` against `real` (the rows the model learned from), as
`synthvol evaluate --json` gives it: fidelity (marginals, correlations, Wasserstein, detection),
utility with a `target`, and privacy risk against an optional `holdout` of real rows the model
never saw. Other report options (`wasserstein_rows`, `privacy_rows`, `propensity_rows`,
`detection_folds`) by name.
"""
function evaluate(real, synthetic; holdout = nothing, target = nothing, seed = nothing,
                  threads = nothing, progress = nothing,
                  cancel::Union{Nothing,CancelToken} = nothing, options...)
    r, _ = to_sv(real, "real")
    s, _ = to_sv(synthetic, "synthetic")
    h = holdout === nothing ? nothing : first(to_sv(holdout, "holdout"))
    args = merge_options!(Dict{String,Any}("target" => target, "seed" => seed,
                                           "threads" => threads), options)
    json = request_json(args)
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    st = CallState(progress)
    with_state(st) do user
        sv_evaluate(r, s, h === nothing ? Ptr{sv_table}(C_NULL) : h, json, PROGRESS_C[], user,
                    cancel, out)
    end
    return parse_json(take_string(out[]))
end

"""
    tune(model, train, valid; target, ratios, analysis, repeats, with_raw, seed, threads,
         device, label, progress, cancel) -> Dict{String,Any}

Generational-effect tuning of the synthetic volume: for each ratio ρ in `ratios` (default
1:30), an analysis is trained on m = ρ·n synthetic rows (n = rows of `train`) and scored on
`valid`, over `repeats` generations (3); the m with the lowest mean validation error is
chosen. The result has the curve (`"points"`), `"chosen_ratio"`, `"chosen_m"` and the raw-only
error. `analysis = nothing` or `:linear` uses the built-in analysis of `target` (logistic
regression scored by misclassification for a categorical target, least squares by RMSE for a
numeric one), `:boosting` built-in gradient-boosted trees (the paper's SynBoost); otherwise `analysis(train, valid)` is any Julia function that fits on the column table `train`
and returns the error to minimise on `valid` (`target` may then be omitted). Keep test rows out
of `valid`. `label` draws every synthetic row with that class of the model's target (a model
conditioned on a group column, fitted on related and target rows together).
"""
function tune(model::Model, train, valid; target = nothing, ratios = nothing,
              analysis = nothing, repeats = nothing, with_raw = nothing, seed = nothing,
              threads = nothing, device = nothing, label = nothing, progress = nothing,
              cancel::Union{Nothing,CancelToken} = nothing)
    kind = nothing
    if analysis isa Union{Symbol,AbstractString}
        kind = string(analysis)
        analysis = nothing
    end
    (analysis === nothing || analysis isa Function) ||
        argerror("'analysis' must be :linear, :boosting or a function(train, valid) returning the error to minimise")
    tr, _ = to_sv(train, "train")
    va, _ = to_sv(valid, "valid")
    json = request_json(Dict{String,Any}("ratios" => ratios, "repeats" => repeats,
                                         "with_raw" => with_raw, "seed" => seed,
                                         "threads" => threads, "device" => device,
                                         "analysis" => kind,
                                         "label" => label === nothing ? nothing : string(label)))
    tgt = target === nothing ? nothing : c_text(string(target), "'target'")
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    st = CallState(progress; analysis = analysis, columns = model.columns)
    with_state(st) do user
        sv_tune(model, tr, va, tgt === nothing ? Ptr{UInt8}(C_NULL) : tgt, json,
                analysis === nothing ? C_NULL : ANALYSIS_C[], user, PROGRESS_C[], user, cancel,
                out)
    end
    return parse_json(take_string(out[]))
end

"""
    infer(syntheses, target, real_rows) -> Dict{String,Any}

Least squares (numeric `target`) or logistic regression (two-class `target`) on `m` syntheses
of equal size (a table or a vector of tables) drawn from a generator that learned from
`real_rows` real rows: estimates with naive and corrected standard errors (synthpop's
population inference), as `synthvol infer --json` gives them.
"""
function infer(syntheses, target, real_rows::Integer)
    list = synthesis_list(syntheses)
    isempty(list) && argerror("'syntheses' is empty: give at least one synthetic table")
    tables = [first(to_sv(s, "syntheses[$i]")) for (i, s) in enumerate(list)]
    count_value("real_rows", real_rows)
    ptrs = Ptr{sv_table}[t.ptr for t in tables]
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    status = GC.@preserve tables sv_infer(ptrs, length(ptrs), c_text(string(target), "'target'"),
                                          Csize_t(real_rows), out)
    check(status)
    return parse_json(take_string(out[]))
end

# One table or a vector of tables. A vector of NamedTuples counts as a vector of tables when
# each is a column table (what `sample` returns), else as one row table.
function synthesis_list(x)
    column_table(s) = Tables.istable(s) &&
                      (!(s isa NamedTuple) || all(v -> v isa AbstractVector, values(s)))
    if x isa AbstractVector && !isempty(x) && all(column_table, x)
        return collect(Any, x)
    end
    return Any[x]
end

"""
    syn_test(model, data; target, features, train, ratios, mc, alpha, steps, seed, threads,
             device, progress, cancel) -> Dict{String,Any}

The Syn-Test: whether `features` matter for `target` in `data`, tested on synthetic volumes from
`model` fine-tuned to `data` (or to `train`), as `synthvol test --json` reports it.
"""
function syn_test(model::Model, data; target, features, train = nothing, ratios = nothing,
                  mc = nothing, alpha = nothing, steps = nothing, seed = nothing,
                  threads = nothing, device = nothing, progress = nothing,
                  cancel::Union{Nothing,CancelToken} = nothing)
    d, _ = to_sv(data)
    tr = train === nothing ? nothing : first(to_sv(train, "train"))
    ft = request_json(Dict{String,Any}("steps" => steps, "threads" => threads,
                                       "device" => device))
    json = request_json(Dict{String,Any}("target" => target, "features" => features,
                                         "ratios" => ratios, "mc" => mc, "alpha" => alpha,
                                         "seed" => seed);
                        verbatim = Dict("fine_tune" => ft))
    out = Ref{Ptr{sv_bytes}}(C_NULL)
    st = CallState(progress)
    with_state(st) do user
        sv_syn_test(model, d, tr === nothing ? Ptr{sv_table}(C_NULL) : tr, json, PROGRESS_C[],
                    user, cancel, out)
    end
    return parse_json(take_string(out[]))
end

# SynthVol.jl's tests: run with `julia --project=bindings/julia -e 'using Pkg; Pkg.test()'`
# after `cargo build --release` (or with SYNTHVOL_LIB set). SYNTHVOL_CLI may name the synthvol
# binary for the test that compares with the CLI's rows (default: the repository's
# target/release/synthvol).
using SynthVol
using Test
using DataFrames
using CategoricalArrays
using Dates
using Random
using Serialization

const REPO = normpath(joinpath(@__DIR__, "..", "..", ".."))
const CLI = get(ENV, "SYNTHVOL_CLI", joinpath(REPO, "target", "release", "synthvol"))

# A small fit that takes a second or two.
quick(data; kw...) = fit(data; steps = 30, layers = [32, 32], timesteps = 10, kw...)

function mixed(n = 300)
    rng = MersenneTwister(1)
    ward = categorical(rand(rng, ["surgery", "medicine", "icu"], n);
                       levels = ["surgery", "medicine", "icu", "unused"])
    grade = categorical(rand(rng, ["low", "mid", "high"], n); levels = ["low", "mid", "high"],
                        ordered = true)
    age = Vector{Union{Missing,Int}}(rand(rng, 18:90, n))
    age[1:10:end] .= missing
    stay = Vector{Union{Missing,Float64}}(round.(rand(rng, n) .* 20; digits = 2))
    stay[5:25:end] .= missing
    admitted = Date(2020, 1, 1) .+ Day.(rand(rng, 0:700, n))
    seen = DateTime(2021, 3, 1) .+ Second.(rand(rng, 0:86_400 * 30, n))
    smoker = Vector{Union{Missing,Bool}}(rand(rng, Bool, n))
    smoker[3:30:end] .= missing
    city = rand(rng, ["Leeds", "York", "Hull"], n)
    code = rand(rng, [:a, :b], n)
    small = Int32.(rand(rng, 1:5, n))
    return (ward = ward, grade = grade, age = age, stay = stay, admitted = admitted,
            seen = seen, smoker = smoker, city = city, code = code, small = small)
end

@testset "SynthVol" begin
    @testset "library" begin
        @test isfile(SynthVol.libpath())
        @test SynthVol.version() isa VersionNumber
    end

    @testset "every column type round trips with missing values" begin
        d = mixed()
        m = quick(d; seed = 3)
        s = sample(m, 200; seed = 5)
        @test s isa NamedTuple
        @test keys(s) == keys(d)
        @test all(length(c) == 200 for c in s)
        @test s.ward isa CategoricalArray
        @test levels(s.ward) == ["surgery", "medicine", "icu", "unused"] # unused level kept
        @test !isordered(s.ward)
        @test s.grade isa CategoricalArray && isordered(s.grade)
        @test levels(s.grade) == ["low", "mid", "high"]                  # order kept
        @test eltype(s.age) == Union{Missing,Int}
        @test eltype(s.stay) == Union{Missing,Float64}
        @test eltype(s.admitted) == Date
        @test eltype(s.seen) == DateTime
        @test eltype(s.smoker) == Union{Missing,Bool}
        @test eltype(s.city) == String
        @test issubset(unique(s.city), ["Leeds", "York", "Hull"])
        @test eltype(s.code) == Symbol
        @test eltype(s.small) == Int32
        @test all(x -> 18 <= x <= 90, skipmissing(s.age))
        df = DataFrame(s)
        @test size(df) == (200, 10)
        # a DataFrame in, too
        m2 = quick(DataFrame(d); seed = 3)
        @test sample(m2, 50; seed = 1).ward == sample(m, 50; seed = 1).ward
        # a view of a DataFrame: categorical columns are views of CategoricalArrays
        v = quick(view(DataFrame(d), 1:200, :); seed = 3)
        @test levels(sample(v, 5; seed = 1).ward) == levels(d.ward)
    end

    @testset "seeds reproduce; ranges are the same rows" begin
        d = mixed()
        m = quick(d; seed = 1)
        a = sample(m, 120; seed = 9)
        b = sample(m, 120; seed = 9, threads = 1)
        @test isequal(DataFrame(a), DataFrame(b))
        c = sample(m, 120; seed = 10)
        @test !isequal(DataFrame(a), DataFrame(c))
        part = sample(m, 40; seed = 9, start = 80)
        @test isequal(DataFrame(part), DataFrame(a)[81:120, :])
        Random.seed!(42)
        x = sample(m, 20)
        Random.seed!(42)
        y = sample(m, 20)
        @test isequal(DataFrame(x), DataFrame(y))
        @test shard(100, 0, 3) == (0, 33)
        @test shard(100, 2, 3) == (66, 34)
        blocks = DataFrame[]
        sample(m, 600; seed = 9) do rows
            push!(blocks, DataFrame(rows))
            nothing
        end
        @test isequal(reduce(vcat, blocks), DataFrame(sample(m, 600; seed = 9)))
    end

    @testset "the same rows as the CLI for the same model and seed" begin
        if !isfile(CLI)
            @warn "SYNTHVOL_CLI does not name the synthvol binary; skipping the CLI comparison"
            @test_skip false
        else
            d = (age = Float64.(rand(MersenneTwister(2), 20:70, 300)),
                 ward = rand(MersenneTwister(3), ["a", "b", "c"], 300))
            m = quick(d)
            path = tempname() * ".svmodel"
            csv = tempname() * ".csv"
            save(m, path)
            run(pipeline(`$CLI sample --model $path --rows 80 --seed 11 --out $csv`;
                         stdout = devnull, stderr = devnull))
            lines = readlines(csv)
            @test lines[1] == "age,ward"
            ours = sample(m, 80; seed = 11)
            for (i, line) in enumerate(lines[2:end])
                age, ward = split(line, ",")
                @test parse(Float64, age) ≈ ours.age[i] rtol = 1e-6
                @test ward == ours.ward[i]
            end
        end
    end

    @testset "save, load, bytes and Serialization" begin
        d = mixed()
        m = quick(d; target = "ward", seed = 2)
        path = tempname() * ".svmodel"
        save(m, path)
        l = load(path)
        @test isequal(DataFrame(sample(l, 30; seed = 4)), DataFrame(sample(m, 30; seed = 4)))
        @test eltype(sample(l, 5; seed = 1).admitted) == Date   # the Julia types survive
        b = model_from_bytes(model_bytes(m))
        @test isequal(DataFrame(sample(b, 30; seed = 4)), DataFrame(sample(m, 30; seed = 4)))
        io = IOBuffer()
        serialize(io, m)
        seekstart(io)
        r = deserialize(io)
        @test r isa Model
        @test isequal(DataFrame(sample(r, 30; seed = 4)), DataFrame(sample(m, 30; seed = 4)))
        @test info(m)["target"] == "ward"
        @test occursin("target ward", sprint(show, m))
        labels = fill("icu", 25)
        @test all(==("icu"), sample(m, 25; seed = 1, labels = labels).ward)
    end

    @testset "fine-tuning and privacy" begin
        a = adult()
        @test a.train isa NamedTuple && a.train.income isa CategoricalArray
        men = findall(==("Male"), a.train.sex)[1:500]
        women = findall(==("Female"), a.train.sex)[1:200]
        sub(ix) = map(c -> c[ix], a.train)
        pre = quick(sub(men); target = "income", schema = schema("adult"))
        tuned = fine_tune(pre, sub(women); steps = 20)
        @test tuned isa Model
        @test length(sample(tuned, 10; seed = 1).income) == 10
        priv = quick(sub(1:300); target = "income", epsilon = 1.0, schema = schema("adult"),
                     noise_seed = 3)
        p = privacy(priv)
        @test p["epsilon"] <= 1.0
        @test privacy(sample_rate = 0.01, noise_multiplier = 1, steps = 1000) ≈ 2.1014 atol = 1e-3
        @test privacy_sigma(sample_rate = 0.01, steps = 1000, epsilon = 1.0) > 0
    end

    @testset "tune with a Julia analysis; infer; evaluate" begin
        a = adult()
        sub(ix) = map(c -> c[ix], a.train)
        tr = sub(1:600)
        va = sub(601:900)
        m = quick(tr; target = "income")
        calls = Ref(0)
        function err(train, valid)
            calls[] += 1
            @test train.income isa CategoricalArray
            # predict the majority class of `train`
            top = argmax(l -> count(==(l), train.income), levels(train.income))
            return count(!=(top), valid.income) / length(valid.income)
        end
        r = tune(m, tr, va; ratios = [1, 2], repeats = 1, analysis = err)
        @test calls[] >= 2
        @test r["chosen_ratio"] in (1, 2)
        @test length(r["points"]) == 2
        builtin = tune(m, tr, va; target = "income", ratios = [1], repeats = 1)
        @test haskey(builtin, "raw_only_error")
        boosted = tune(m, tr, va; target = "income", ratios = [1], repeats = 1,
                       analysis = :boosting)
        @test boosted["error_metric"] == "misclassification rate"
        @test_throws SynthVolError tune(m, tr, va; target = "income", ratios = [1],
                                        repeats = 1, analysis = :forest)
        # an analysis that fails: its own error, with its backtrace
        @test_throws CapturedException tune(m, tr, va; ratios = [1], repeats = 1,
                                            analysis = (t, v) -> error("my analysis broke"))
        @test_throws SynthVolError tune(m, tr, va; ratios = [1], repeats = 1,
                                        analysis = (t, v) -> "not a number")
        syn = [sample(m, 600; seed = i) for i in 1:3]
        inf = infer(syn, "income", 600)
        @test haskey(inf, "coefficients")
        rep = evaluate(tr, syn[1]; holdout = va, target = "income")
        @test haskey(rep, "fidelity")
    end

    @testset "progress and cancellation" begin
        d = mixed()
        seen = Ref(0)
        quick(d; progress = (stage, done, total, loss) -> (seen[] += 1; nothing))
        @test seen[] >= 1
        e = try
            fit(d; steps = 100_000, layers = [16], progress = (s, done, t, l) -> done >= 5)
            nothing
        catch err
            err
        end
        @test e isa SynthVolError && e.code == :cancelled
        # an interrupt inside the callback becomes a cancel, raised as InterruptException
        @test_throws InterruptException fit(d; steps = 100_000, layers = [16],
                                            progress = (s, done, t, l) -> done >= 3 && throw(InterruptException()))
        tok = CancelToken()
        cancel!(tok)
        @test_throws SynthVolError quick(d; cancel = tok)
        # the handles stay usable after a cancel
        m = quick(d)
        @test length(sample(m, 3; seed = 1).ward) == 3
    end

    @testset "bad input throws SynthVolError" begin
        d = mixed()
        err(f) = try
            f()
            nothing
        catch e
            e
        end
        e = err(() -> quick(d; target = "nope"))
        @test e isa SynthVolError && occursin("nope", e.message)
        @test err(() -> fit([1, 2, 3])) isa SynthVolError           # not a table
        @test err(() -> fit("a string")) isa SynthVolError
        e = err(() -> quick((a = Float64[], b = String[])))          # zero rows
        @test e isa SynthVolError
        @test err(() -> model_from_bytes(rand(MersenneTwister(1), UInt8, 100))).code == :format
        @test err(() -> load(tempname())) isa SynthVolError
        @test err(() -> quick(d; steps = -1)) isa SynthVolError
        @test err(() -> quick(d; layers = [0])) isa SynthVolError
        @test err(() -> quick(d; no_such_option = 1)).code == :invalid_argument
        @test err(() -> quick(d; epsilon = 1.0)) isa SynthVolError  # private without a schema
        @test err(() -> quick((x = [1 + 2im, 3im],))) isa SynthVolError
        @test err(() -> quick((x = Any[1, "a"],))) isa SynthVolError
        m = quick(d)
        @test err(() -> sample(m, -1)) isa SynthVolError
        @test err(() -> sample(m, 5; seed = -3)) isa SynthVolError
        @test err(() -> sample(m, 5; labels = ["a"])) isa SynthVolError
        @test err(() -> fine_tune(m, (other = [1.0, 2.0],))) isa SynthVolError
        @test err(() -> quick(NamedTuple{(Symbol("a\0b"),)}(([1.0, 2.0],)))) isa SynthVolError
    end
end

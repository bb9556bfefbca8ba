// The kernels' arithmetic (kernels/include/*.cuh) compiled as host C++, driven by
// tests/kernels.rs: one command per line on stdin, its results on one line of stdout
// (floats with 9 significant digits, words in hex). The test compares them with the CPU
// backend and with published test vectors.
#include "sv_chacha20.cuh"
#include "sv_diffusion.cuh"
#include "sv_math.cuh"
#include "sv_rng.cuh"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static std::vector<float> floats(std::istringstream &in, size_t n) {
    std::vector<float> v(n);
    for (auto &x : v) in >> x;
    return v;
}

// NB b1 .. bNB: a layout's one-hot block sizes; returns their total width.
static std::vector<int> blocks_of(std::istringstream &in) {
    int nb; in >> nb;
    std::vector<int> b(nb);
    for (auto &k : b) in >> k;
    return b;
}

static sv_u64 width_of(int n_num, const std::vector<int> &b) {
    sv_u64 w = (sv_u64)n_num;
    for (int k : b) w += (sv_u64)k;
    return w;
}

static void put(const std::vector<float> &v) {
    for (size_t i = 0; i < v.size(); i++) std::printf(i ? " %.9g" : "%.9g", (double)v[i]);
    std::printf("\n");
}

int main() {
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string op;
        in >> op;
        if (op == "act") { // act ACT N x...
            int act; size_t n; in >> act >> n;
            auto x = floats(in, n);
            for (auto &v : x) v = sv_act(act, v);
            put(x);
        } else if (op == "act_grad") { // act_grad ACT N g... saved...
            int act; size_t n; in >> act >> n;
            auto g = floats(in, n), s = floats(in, n);
            for (size_t i = 0; i < n; i++) g[i] = sv_act_grad(act, g[i], s[i]);
            put(g);
        } else if (op == "adamw") { // adamw lr b1 b2 eps wd t er N p... g... m... v... e...
            double lr, b1, b2, eps, wd, er; int t; size_t n;
            in >> lr >> b1 >> b2 >> eps >> wd >> t >> er >> n;
            auto p = floats(in, n), g = floats(in, n), m = floats(in, n), v = floats(in, n),
                 e = floats(in, n);
            // the host's f64 constants, as CpuBackend::adamw computes them
            double bc1 = 1.0, bc2 = 1.0;
            for (int i = 0; i < t; i++) { bc1 *= b1; bc2 *= b2; }
            bc1 = 1.0 - bc1; bc2 = 1.0 - bc2;
            sv_adam s = {(float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2),
                         (float)(lr / bc1), (float)(1.0 / bc2), (float)eps,
                         (float)(1.0 - lr * wd), (float)er, (float)(1.0 - er)};
            for (size_t i = 0; i < n; i++) sv_adamw_ema(&s, g[i], &p[i], &m[i], &v[i], &e[i]);
            std::vector<float> out;
            for (auto *x : {&p, &m, &v, &e}) out.insert(out.end(), x->begin(), x->end());
            put(out);
        } else if (op == "clip") { // clip C N sq...
            double c; size_t n; in >> c >> n;
            auto sq = floats(in, n);
            for (auto &x : sq) x = sv_clip_factor(x, c);
            put(sq);
        } else if (op == "temb") { // temb DIM N t... -> N·DIM values
            int dim; size_t n; in >> dim >> n;
            auto t = floats(in, n);
            int half = dim / 2;
            std::vector<float> out;
            for (float tv : t)
                for (int j = 0; j < dim; j++) {
                    if (j >= 2 * half) { out.push_back(0.0f); continue; }
                    int f = j < half ? j : j - half;
                    double a = (double)tv * sv_timestep_freq(f, half);
                    out.push_back((float)(j < half ? cos(a) : sin(a)));
                }
            put(out);
        } else if (op == "qnum") { // qnum ALPHA_BAR N x0... eps...
            double ab; size_t n; in >> ab >> n;
            auto x0 = floats(in, n), eps = floats(in, n);
            for (size_t i = 0; i < n; i++) x0[i] = sv_q_sample_num(ab, x0[i], eps[i]);
            put(x0);
        } else if (op == "softmax") { // softmax K z...
            size_t k; in >> k;
            auto z = floats(in, k);
            float m = z[0];
            for (float v : z) m = v > m ? v : m;
            float s = 0.0f;
            for (auto &v : z) { v = sv_softmax_term(v, m); s += v; }
            for (auto &v : z) v /= s;
            put(z);
        } else if (op == "mweight") { // mweight ALPHA_BAR K HOT
            double ab; int k, hot; in >> ab >> k >> hot;
            std::vector<float> w;
            for (int i = 0; i < k; i++) w.push_back(sv_multinomial_weight(ab, k, i == hot));
            put(w);
        } else if (op == "chacha") { // chacha KEY(8 words, hex) COUNTER NONCE(3 words, hex)
            sv_u32 key[8], nonce[3], counter, out[16];
            for (auto &k : key) in >> std::hex >> k;
            in >> std::dec >> counter;
            for (auto &w : nonce) in >> std::hex >> w;
            sv_chacha20_block(key, counter, nonce, out);
            for (int i = 0; i < 16; i++) std::printf(i ? " %08x" : "%08x", out[i]);
            std::printf("\n");
        } else if (op == "normal") { // normal W0 W1 W2 W3 (hex) -> two normals
            sv_u32 w0, w1, w2, w3; in >> std::hex >> w0 >> w1 >> w2 >> w3;
            float z0, z1;
            sv_box_muller(w0, w1, w2, w3, &z0, &z1);
            put({z0, z1});
        } else if (op == "uniform") { // uniform SEED STREAM ROW N -> N uniforms (f64)
            sv_u64 seed, stream, row; size_t n; in >> seed >> stream >> row >> n;
            sv_rng r = sv_row_rng(seed, stream, row);
            for (size_t i = 0; i < n; i++) std::printf(i ? " %.17g" : "%.17g", sv_uniform(&r));
            std::printf("\n");
        } else if (op == "normals") { // normals SEED STREAM ROW N -> fill_normal's N values
            sv_u64 seed, stream, row; size_t n; in >> seed >> stream >> row >> n;
            sv_rng r = sv_row_rng(seed, stream, row);
            std::vector<float> z(n);
            sv_fill_normal(&r, z.data(), n);
            put(z);
        } else if (op == "exp") { // exp N x... -> sv_exp_f32
            size_t n; in >> n;
            auto x = floats(in, n);
            for (auto &v : x) v = sv_exp_f32(v);
            put(x);
        } else if (op == "qrow") { // qrow NNUM BLOCKS AB SEED STREAM ROW x0... -> xt..., eps...
            int n_num; in >> n_num;
            auto b = blocks_of(in);
            double ab; sv_u64 seed, stream, row; in >> ab >> seed >> stream >> row;
            sv_u64 w = width_of(n_num, b);
            auto x0 = floats(in, w);
            std::vector<float> xt(w), eps(n_num);
            sv_rng r = sv_row_rng(seed, stream, row);
            sv_q_sample_row(n_num, b.data(), (int)b.size(), ab, x0.data(), &r, xt.data(), eps.data());
            xt.insert(xt.end(), eps.begin(), eps.end());
            put(xt);
        } else if (op == "loss") { // loss NNUM BLOCKS T A WP WG WM out... x0... xt... eps... -> loss, dout...
            int n_num; in >> n_num;
            auto b = blocks_of(in);
            int t; double a, wp; float wg, wm; in >> t >> a >> wp >> wg >> wm;
            sv_u64 w = width_of(n_num, b);
            auto out = floats(in, w), x0 = floats(in, w), xt = floats(in, w), eps = floats(in, n_num);
            std::vector<float> d(w);
            float l = sv_loss_grad_row(n_num, b.data(), (int)b.size(), t, a, wp, out.data(), x0.data(),
                                       xt.data(), eps.data(), wg, wm, d.data());
            d.insert(d.begin(), l);
            put(d);
        } else if (op == "psample") { // psample NNUM BLOCKS C0 C1 M1 M2 ABP A SD T LIMIT SEED STREAM ROW out... x... -> x...
            int n_num; in >> n_num;
            auto b = blocks_of(in);
            sv_step st; double limit; sv_u64 seed, stream, row;
            in >> st.c0 >> st.c1 >> st.m1 >> st.m2 >> st.abp >> st.a >> st.sd >> st.t >> limit >> seed >>
                stream >> row;
            sv_u64 w = width_of(n_num, b);
            auto out = floats(in, w), x = floats(in, w);
            sv_rng r = sv_row_rng(seed, stream, row);
            sv_p_sample_row(n_num, b.data(), (int)b.size(), &st, limit, out.data(), x.data(), &r);
            put(x);
        } else if (op == "prior") { // prior NNUM BLOCKS SEED STREAM ROW -> x...
            int n_num; in >> n_num;
            auto b = blocks_of(in);
            sv_u64 seed, stream, row; in >> seed >> stream >> row;
            std::vector<float> x(width_of(n_num, b));
            sv_rng r = sv_row_rng(seed, stream, row);
            sv_prior_row(n_num, b.data(), (int)b.size(), x.data(), &r);
            put(x);
        } else {
            std::printf("unknown command %s\n", op.c_str());
            return 2;
        }
        std::fflush(stdout);
    }
    return 0;
}

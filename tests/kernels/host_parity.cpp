// The kernels' arithmetic (kernels/include/*.cuh) compiled as host C++, driven by
// tests/kernels.rs: one command per line on stdin, its results on one line of stdout
// (floats with 9 significant digits, words in hex). The test compares them with the CPU
// backend and with published test vectors.
#include "sv_chacha20.cuh"
#include "sv_math.cuh"

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
        } else if (op == "normal") { // normal W0 W1 (hex) -> two normals
            sv_u32 w0, w1; in >> std::hex >> w0 >> w1;
            float z0, z1;
            sv_box_muller(w0, w1, &z0, &z1);
            put({z0, z1});
        } else {
            std::printf("unknown command %s\n", op.c_str());
            return 2;
        }
        std::fflush(stdout);
    }
    return 0;
}

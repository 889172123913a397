// Times oneDNN 2.6's batch normalization (training forward + backward, with and without the fused
// ReLU) and max pooling (forward + backward) on NCHW and nChw16c tensors, to compare with Lumen's
// Java kernels on the same shapes. Build: g++ -O2 -o bn_pool tools/onednn_bn_pool.cpp -ldnnl
// Run: OMP_NUM_THREADS=1 ./bn_pool ; OMP_NUM_THREADS=2 ./bn_pool (needs the headers: apt-get install libdnnl-dev g++).
// Lumen's side of the comparison: BatchNormReluBench and MaxPoolBench, or the figures in the README.
#include <dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>
#include <unordered_map>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static double median_ms(const std::function<void()> &f) {
    for (int i = 0; i < 5; i++) f();
    std::vector<double> t;
    for (int i = 0; i < 21; i++) {
        auto a = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

static void fill(memory &m) {
    float *p = static_cast<float *>(m.get_data_handle());
    size_t n = m.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = (float) ((i * 2654435761u) % 1000) / 500.0f - 1.0f;
}

int main() { setvbuf(stdout, NULL, _IONBF, 0);
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    long shapes[][4] = {{8, 64, 112, 112}, {8, 256, 56, 56}, {8, 48, 56, 56}, {8, 512, 28, 28}, {8, 2048, 7, 7}};
    for (auto &sh : shapes) {
        for (tag t : {tag::nchw, tag::nChw16c}) {
            for (bool relu : {false, true}) {
                memory::desc md({sh[0], sh[1], sh[2], sh[3]}, dt::f32, t);
                auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
                if (relu) flags = flags | normalization_flags::fuse_norm_relu;
                batch_normalization_forward::primitive_desc fpd(
                        batch_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
                batch_normalization_backward::primitive_desc bpd(
                        batch_normalization_backward::desc(prop_kind::backward, md, md, 1e-5f, flags), eng, fpd);
                memory src(md, eng), dst(md, eng), ddst(md, eng), dsrc(md, eng);
                memory mean(fpd.mean_desc(), eng), var(fpd.variance_desc(), eng), ws(fpd.workspace_desc(), eng);
                memory::desc cmd({sh[1]}, dt::f32, tag::a);
                memory scale(cmd, eng), shift(cmd, eng), dscale(cmd, eng), dshift(cmd, eng);
                fill(src); fill(ddst); fill(scale); fill(shift);
                batch_normalization_forward fwd(fpd);
                batch_normalization_backward bwd(bpd);
                double f = median_ms([&] {
                    fwd.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
                                    {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_WORKSPACE, ws}});
                    s.wait();
                });
                std::unordered_map<int, memory> bargs = {{DNNL_ARG_SRC, src}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
                        {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_DIFF_SRC, dsrc},
                        {DNNL_ARG_DIFF_SCALE, dscale}, {DNNL_ARG_DIFF_SHIFT, dshift}};
                if (relu) bargs[DNNL_ARG_WORKSPACE] = ws;
                double b = median_ms([&] { bwd.execute(s, bargs); s.wait(); });
                std::printf("batch_norm%s %ldx%ldx%ldx%ld %s fwd %.3f bwd %.3f ms\n", relu ? "_relu" : "", sh[0], sh[1], sh[2], sh[3],
                            t == tag::nchw ? "nchw" : "nChw16c", f, b);
            }
        }
    }
    for (tag t : {tag::nchw, tag::nChw16c}) {
        memory::desc src_md({8, 64, 112, 112}, dt::f32, t), dst_md({8, 64, 56, 56}, dt::f32, t);
        pooling_forward::primitive_desc fpd(pooling_forward::desc(prop_kind::forward_training, algorithm::pooling_max, src_md, dst_md,
                                                                  {2, 2}, {3, 3}, {1, 1}, {1, 1}), eng);
        pooling_backward::primitive_desc bpd(pooling_backward::desc(algorithm::pooling_max, src_md, dst_md, {2, 2}, {3, 3}, {1, 1}, {1, 1}),
                                             eng, fpd);
        memory src(src_md, eng), dst(dst_md, eng), ws(fpd.workspace_desc(), eng), ddst(dst_md, eng), dsrc(src_md, eng);
        fill(src); fill(ddst);
        pooling_forward fwd(fpd);
        pooling_backward bwd(bpd);
        double f = median_ms([&] { fwd.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_WORKSPACE, ws}}); s.wait(); });
        double b = median_ms([&] { bwd.execute(s, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC, dsrc}}); s.wait(); });
        std::printf("max_pool3x3s2 8x64x112x112 %s fwd %.3f bwd %.3f ms\n", t == tag::nchw ? "nchw" : "nChw16c", f, b);
    }
    return 0;
}

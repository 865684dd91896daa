// Example 5, encrypted inference over the network with the C++ client API. Two parties:
//   the model owner compiles an ONNX network and serves it (here in this process on a loopback
//   port; in a deployment, `henn serve --model mnist=model.henn`);
//   the data owner connects, fetches the model's public parameters (never its weights), makes
//   keys on its side, sends only evaluation and public keys, encrypts its inputs, receives the
//   encrypted outputs and decrypts them. The server never holds the secret key; the outputs it
//   returns are noise-flooded so that they reveal the prediction but not the weights beyond it.
// Usage: 5_remote_inference MODEL.onnx (a network on 28x28 or 784 inputs, e.g. the MLP fixture).
// Exit status 0 if the decrypted outputs agree with the model run in the clear within the stated
// precision (a check only this example can make: it holds both parties' data).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "henn/engine/client.hpp"
#include "henn/engine/compiled_model.hpp"
#include "henn/onnx/onnx.hpp"
#include "henn/service/inference.hpp"

using namespace henn;

namespace {

std::vector<double> uniform_pixels(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> pixel(0, 1);
    std::vector<double> v(n);
    for (auto& x : v) x = pixel(rng);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    try {
        // ---- The model owner: compile for encryption and serve. ----
        const nn::Model network = onnx::import_onnx(argv[1]).model;
        engine::CompileOptions compile;
        compile.calibration_count = 64;  // the scales are planned from values seen on these inputs
        compile.calibration = uniform_pixels(64 * 784, 1);
        const engine::CompiledModelPtr model = engine::CompiledModel::compile(network, compile);
        service::InferenceService inference({{"mnist", model}});
        service::ServerOptions listen;
        listen.listen_address = "127.0.0.1:0";  // any free port, loopback only
        service::Server server(listen, {&inference});
        std::printf("server: serving 'mnist' on %s\n", server.address().c_str());

        // ---- The data owner: public parameters, local keys, encrypted inputs. ----
        service::ChannelOptions channel;
        channel.address = server.address();
        service::InferenceClient remote(channel);
        for (const auto& info : remote.list_models()) {
            std::printf(
                "client: model '%s', ring 2^%d, %lld inputs per batch, %.1f bits expected "
                "(%.1f after the server's noise flooding)\n",
                info.name.c_str(), info.log_n, static_cast<long long>(info.batch_size),
                info.expected_precision_bits, info.precision_after_flooding_bits);
        }
        const engine::CompiledModelPtr published = remote.fetch_model("mnist");  // no weights
        const engine::Client client(published);  // the secret key is made here and stays here
        const service::KeyMaterial keys = service::make_key_material(client);
        remote.upload_keys("mnist", keys);
        std::printf("client: sent %.2f MB of evaluation and public keys (hash %.16s...)\n",
                    static_cast<double>(keys.evaluation_keys.size() + keys.public_key.size()) / 1e6,
                    keys.hash.c_str());

        const std::int64_t count = 100;
        const std::vector<double> inputs =
            uniform_pixels(static_cast<std::size_t>(count * published->input_size()), 2);
        const service::InferReport report = remote.infer("mnist", client, keys, inputs, count);
        std::printf(
            "client: %lld inputs, %.1f KB up and %.2f KB down per input; encrypt %.2f s, "
            "network and server %.2f s (server compute %.2f s), decrypt %.3f s\n",
            static_cast<long long>(count), static_cast<double>(report.bytes_up) / count / 1e3,
            static_cast<double>(report.bytes_down) / count / 1e3, report.seconds_encrypt,
            report.seconds_network_wall, report.seconds_server, report.seconds_decrypt);

        // ---- The check: the same inputs through the model in the clear. ----
        const std::int64_t classes = model->output_size();
        double worst = 0;
        std::int64_t agree = 0;
        for (std::int64_t i = 0; i < count; ++i) {
            const auto plain = model->run_plain(std::span<const double>(inputs).subspan(
                static_cast<std::size_t>(i * model->input_size()), model->input_size()));
            const double* decrypted = report.outputs.data() + i * classes;
            for (std::int64_t c = 0; c < classes; ++c)
                worst = std::max(worst, std::abs(decrypted[c] - plain[c]));
            agree += std::max_element(decrypted, decrypted + classes) - decrypted ==
                     std::max_element(plain.begin(), plain.end()) - plain.begin();
        }
        // The stated precision bounds the absolute error of the outputs (at ten standard
        // deviations of the expected error, flooding included).
        const double bits = -std::log2(worst);
        const double stated = remote.list_models().front().precision_after_flooding_bits;
        std::printf(
            "check: %lld of %lld predictions as in the clear, worst error 2^-%.1f (stated: "
            "2^-%.1f)\n",
            static_cast<long long>(agree), static_cast<long long>(count), bits, stated);
        return bits >= stated && agree >= count * 95 / 100 ? 0 : 1;
    } catch (const henn::Error& e) {
        std::fprintf(stderr, "error (%s): %s\n", std::string(category_name(e.category())).c_str(),
                     e.what());
        return 1;
    }
}

// Example 4, ONNX import and inspection: a network trained elsewhere (an ONNX file, e.g. a
// PyTorch export) becomes henn's model IR; Relu is replaced by a polynomial (the import says so
// in its warnings); the analysis gives the layers, shapes, multiplicative depth and products
// under encryption; the float64 reference executor runs it in the clear.
// Usage: 4_onnx_import MODEL.onnx. Exit status 0 if the model imports, analyses as encryptable
// and runs on a zero input.
#include <cstdio>
#include <vector>

#include "henn/nn/analysis.hpp"
#include "henn/nn/reference.hpp"
#include "henn/onnx/onnx.hpp"

int main(int argc, char** argv) {
    using namespace henn;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    try {
        onnx::OnnxImportOptions options;
        options.replacement =
            nn::parse_activation("poly:least-squares:2:4");  // degree 2 on [-4, 4]
        const onnx::OnnxImport imported = onnx::import_onnx(argv[1], options);
        std::printf("%s: opset %lld, producer '%s'\n", argv[1],
                    static_cast<long long>(imported.opset), imported.producer.c_str());
        for (const auto& warning : imported.warnings) std::printf("warning: %s\n", warning.c_str());
        std::printf("%s", nn::describe(imported.model).c_str());
        const nn::ModelCost cost = nn::analyze(imported.model);
        std::printf("encryptable: %s\n", cost.encryptable ? "yes" : "no");
        const std::vector<double> zeros(
            static_cast<std::size_t>(nn::shape_size(imported.model.input_shape())), 0.0);
        const std::vector<double> logits = nn::run_reference(imported.model, zeros);
        std::printf("logits of a zero input:");
        for (double v : logits) std::printf(" %.4f", v);
        std::printf("\n");
        return cost.encryptable && !logits.empty() ? 0 : 1;
    } catch (const henn::Error& e) {
        std::fprintf(stderr, "error (%s): %s\n", std::string(category_name(e.category())).c_str(),
                     e.what());
        return 1;
    }
}

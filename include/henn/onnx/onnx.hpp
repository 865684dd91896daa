// ONNX in and out (through Debian's libonnx protobuf classes; they stay out of this header).
//
// Export writes standard operators only (Conv, AveragePool, Gemm, Flatten, Mul, Add, Relu,
// Sigmoid, Tanh), polynomials as Horner chains of Mul and Add, opset 13, float32 by default, and
// metadata naming the approximations (henn.polynomial.K = "approximates=...;method=...;
// interval=lo,hi" for the K-th polynomial layer) plus the model's own metadata.
//
// Import accepts chain-shaped models from PyTorch, Keras (tf2onnx) or henn, opsets 9 to 17:
// Conv, Gemm, MatMul, Add, Sub, Mul, Div, Pow (small integer exponent), AveragePool,
// GlobalAveragePool, BatchNormalization, Flatten, Reshape, Pad (zeros), Relu, Sigmoid, Tanh,
// MaxPool, Dropout, Identity, Constant, and the constant and shape arithmetic PyTorch writes
// (Shape, Gather, Unsqueeze, Squeeze, Concat, ConstantOfShape, Cast, Slice, Transpose; the batch
// size is carried symbolically, so x.view(x.size(0), -1) imports as Flatten). Element-wise
// arithmetic is gathered into polynomials (x * x, Pow(x, 2), a*x^2 + b*x + c with scalar
// initializers: one Polynomial layer), affine pieces and BatchNorm are folded into the linear
// layer before them, constants are folded, a symmetric zero Pad becomes the padding of the Conv
// or AveragePool after it (AvgPool2d(padding=p) exports as Pad + AveragePool; the zeros count in
// the window). Relu, Sigmoid and Tanh become the chosen polynomial and MaxPool becomes average
// pooling, each with a warning; a final Softmax/LogSoftmax is dropped with a warning (the model
// then outputs logits; the argmax is unchanged). Anything else is an OnnxError naming the
// operator, the node and the opset (tests/fixtures/onnx holds real PyTorch exports).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "henn/error.hpp"
#include "henn/nn/activation.hpp"
#include "henn/nn/model.hpp"

namespace henn::onnx {

// A model henn cannot import (unsupported operator: parameters) or bytes that are no ONNX model
// (data).
struct OnnxError : ::henn::Error {
    explicit OnnxError(const std::string& message,
                       ErrorCategory category = ErrorCategory::parameters)
        : ::henn::Error(category, message) {}
};

struct OnnxImportOptions {
    // Polynomial that replaces Relu/Sigmoid/Tanh (the function approximated follows the
    // replaced operator). Ignored when keep_nonpolynomial is set.
    nn::ActivationSpec replacement = nn::parse_activation("poly:least-squares:2:4");
    // Keep Relu/Sigmoid/Tanh as NonPolynomial layers (plaintext evaluation of baselines only).
    bool keep_nonpolynomial = false;
    std::size_t max_bytes = std::size_t{1} << 30;
};

struct OnnxImport {
    nn::Model model;
    std::vector<std::string> warnings;
    std::int64_t opset = 0;
    std::string producer;
};

OnnxImport import_onnx(const std::filesystem::path& path, const OnnxImportOptions& options = {});
OnnxImport import_onnx_bytes(std::span<const std::uint8_t> bytes,
                             const OnnxImportOptions& options = {},
                             const std::string& source = "<memory>");

struct OnnxExportOptions {
    bool float64 =
        false;  // double tensors (exact round trip) instead of float32 (what runtimes expect)
    std::int64_t opset = 13;
};

std::string export_onnx_bytes(const nn::Model& model, const OnnxExportOptions& options = {});
void export_onnx(const nn::Model& model, const std::filesystem::path& path,
                 const OnnxExportOptions& options = {});

// Runs the ONNX checker (schema and graph checks) on serialized bytes; throws OnnxError.
void check_onnx_bytes(const std::string& bytes);

}  // namespace henn::onnx

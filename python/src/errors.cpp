// C++ errors of every layer to the Python exceptions of henn/errors.py (documented there). The
// most derived C++ types are caught first; anything else derived from std::exception that is not
// one of pybind11's own (bad_alloc, out_of_range, ...) becomes henn.Error.
#include <string>
#include <system_error>

#include "common.hpp"
#include "henn/ckks/errors.hpp"
#include "henn/data/data.hpp"
#include "henn/engine/errors.hpp"
#include "henn/nn/model.hpp"
#include "henn/onnx/onnx.hpp"
#if __has_include("henn/error.hpp")
#include "henn/error.hpp"
#define HENN_PY_HAS_ROOT_ERROR 1
#endif

namespace henn::python {

namespace {

void raise(const char* name, const char* message) {
    py::object type = py::module_::import("henn.errors").attr(name);
    PyErr_SetString(type.ptr(), message);
}

}  // namespace

void bind_errors(py::module_& m) {
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const engine::CompileError& e) {
            raise("CompileError", e.what());
        } catch (const engine::KeyMismatchError& e) {
            raise("KeyMismatchError", e.what());
        } catch (const engine::FormatError& e) {
            raise("FormatError", e.what());
        } catch (const engine::EngineError& e) {
            raise("Error", e.what());
        } catch (const onnx::OnnxError& e) {
#ifdef HENN_PY_HAS_ROOT_ERROR
            // Bytes that are not an ONNX model are a format error; a model henn cannot run is not.
            if (e.category() == ErrorCategory::data || e.category() == ErrorCategory::io) {
                raise("FormatError", e.what());
                return;
            }
#endif
            raise("CompileError", e.what());
        } catch (const nn::ModelError& e) {
            raise("CompileError", e.what());
        } catch (const data::DataError& e) {
            raise("DataError", e.what());
        } catch (const ckks::SerializationError& e) {
            raise("FormatError", e.what());
        } catch (const ckks::ParameterError& e) {
            raise("ParameterError", e.what());
        } catch (const ckks::MissingKeyError& e) {
            raise("KeyMismatchError", e.what());
        } catch (const ckks::MismatchError& e) {
            raise("KeyMismatchError", e.what());
        } catch (const ckks::LevelError& e) {
            raise("LevelError", e.what());
        } catch (const ckks::ScaleError& e) {
            raise("ScaleError", e.what());
        } catch (const ckks::Error& e) {
            raise("CryptoError", e.what());
#ifdef HENN_PY_HAS_ROOT_ERROR
        } catch (const ::henn::InternalError& e) {
            raise("InternalError", e.what());
        } catch (const ::henn::InvalidArgument& e) {
            raise("ArgumentError", e.what());
        } catch (const ::henn::Error& e) {
            raise("Error", e.what());
#endif
        } catch (const std::system_error& e) {  // files (keys) that cannot be read or written
            raise("DataError", e.what());
        } catch (const std::invalid_argument& e) {
            raise("ArgumentError", e.what());
        } catch (const std::logic_error& e) {
            raise("InternalError", e.what());
        }
        // Anything else propagates to pybind11's own translators.
    });
    m.attr("_errors_bound") = true;
}

}  // namespace henn::python

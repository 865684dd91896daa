// Shared by the binding files: numpy conversions without copies where the layout allows.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

namespace henn::python {

namespace py = pybind11;

// A float64, C-contiguous view of any numeric array: no copy when it already is one (float32,
// integers or strided arrays are converted once).
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using ComplexArray = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;

inline std::span<const double> as_span(const DoubleArray& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
}

// Moves a vector into a numpy array that owns it (no copy), with the given shape.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
    auto* owned = new std::vector<T>(std::move(values));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, owned->data(), free_when_done);
}
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
    const auto n = static_cast<py::ssize_t>(values.size());
    return to_numpy(std::move(values), {n});
}

inline py::bytes to_bytes(const std::vector<std::uint8_t>& data) {
    return py::bytes(reinterpret_cast<const char*>(data.data()), data.size());
}

// The bytes of a bytes/bytearray/memoryview object, without a copy for bytes.
inline std::span<const std::uint8_t> byte_span(const py::buffer_info& info) {
    return {static_cast<const std::uint8_t*>(info.ptr),
            static_cast<std::size_t>(info.size * info.itemsize)};
}

void bind_errors(py::module_& m);
void bind_ckks(py::module_& m);
void bind_engine(py::module_& m);
void bind_data(py::module_& m);
void bind_remote(py::module_& m);  // remote.cpp, when the service layer is built

}  // namespace henn::python

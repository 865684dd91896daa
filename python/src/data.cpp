// Bindings of the data module: the named data sets (MNIST, Fashion-MNIST, WDBC) loaded exactly as
// `henn run` and the tests load them, as numpy arrays.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <filesystem>

#include "common.hpp"
#include "henn/data/data.hpp"

namespace henn::python {

void bind_data(py::module_& m) {
    m.def(
        "load_dataset",
        [](const std::string& name, const std::filesystem::path& data_dir, const std::string& split,
           std::int64_t count, std::int64_t offset) {
            if (split != "train" && split != "test")
                throw py::value_error("split must be \"train\" or \"test\"");
            data::Dataset set;
            {
                py::gil_scoped_release release;
                set = data::load_named_dataset(
                    name, data_dir, split == "train" ? data::Split::train : data::Split::test);
            }
            const std::int64_t total = set.count();
            if (offset < 0 || offset > total) throw py::value_error("offset outside the data set");
            const std::int64_t n = count <= 0 ? total - offset : std::min(count, total - offset);
            const std::int64_t size = set.sample_size();
            std::vector<float> features(set.features.begin() + offset * size,
                                        set.features.begin() + (offset + n) * size);
            std::vector<std::int64_t> labels(set.labels.begin() + offset,
                                             set.labels.begin() + offset + n);
            std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(n)};
            for (auto d : set.sample_shape) shape.push_back(static_cast<py::ssize_t>(d));
            return py::make_tuple(to_numpy(std::move(features), shape),
                                  to_numpy(std::move(labels)));
        },
        py::arg("name"), py::arg("data_dir"), py::arg("split") = "test", py::arg("count") = 0,
        py::arg("offset") = 0,
        R"doc(A named data set ("mnist", "fashion-mnist", "wdbc") under data_dir, as (x, labels):
x float32 of shape (count, *sample_shape) (MNIST: pixels / 255 in (count, 1, 28, 28)), labels
int64. count 0: all from offset. henn.DataError if the files are missing.)doc");
}

}  // namespace henn::python

// henn._henn: the compiled half of the `henn` Python package (python/henn/ is the other half).
#include "common.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_henn, m) {
    m.doc() =
        "henn's C++ core: encrypted inference engine, CKKS, data sets (use the `henn` package).";
    henn::python::bind_errors(m);
    henn::python::bind_engine(m);
    henn::python::bind_ckks(m);
    henn::python::bind_data(m);
#ifdef HENN_PY_HAS_SERVICE
    py::module_ client = m.def_submodule("client", "Encrypted inference against `henn serve`.");
    henn::python::bind_remote(client);
#endif
}

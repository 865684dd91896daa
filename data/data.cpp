#include "henn/data/data.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

namespace henn::data {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem,
                       ErrorCategory category = ErrorCategory::data) {
    throw DataError(path.string() + ": " + problem, category);
}

std::vector<std::uint8_t> gunzip(const std::filesystem::path& path,
                                 const std::vector<std::uint8_t>& compressed,
                                 std::size_t max_bytes) {
    z_stream stream{};
    // 16 + MAX_WBITS: expect a gzip header, not a raw zlib one.
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) fail(path, "cannot initialise zlib");
    stream.next_in = const_cast<Bytef*>(compressed.data());
    stream.avail_in = static_cast<uInt>(compressed.size());
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> chunk(1 << 20);
    int status = Z_OK;
    while (status != Z_STREAM_END) {
        stream.next_out = chunk.data();
        stream.avail_out = static_cast<uInt>(chunk.size());
        status = inflate(&stream, Z_NO_FLUSH);
        if (status != Z_OK && status != Z_STREAM_END) {
            inflateEnd(&stream);
            fail(path, status == Z_BUF_ERROR
                           ? "truncated gzip stream"
                           : "corrupt gzip stream (zlib error " + std::to_string(status) + ")");
        }
        out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - stream.avail_out));
        if (out.size() > max_bytes) {
            inflateEnd(&stream);
            fail(path, "decompressed size exceeds " + std::to_string(max_bytes) + " bytes");
        }
        if (status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
            inflateEnd(&stream);
            fail(path, "truncated gzip stream");
        }
    }
    inflateEnd(&stream);
    return out;
}

std::uint32_t read_be32(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
    return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
           (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

// Checks an IDX header (magic 0x00 0x00 type rank) and returns the dimensions.
std::vector<std::uint32_t> idx_dims(const std::filesystem::path& path,
                                    const std::vector<std::uint8_t>& bytes, unsigned rank) {
    if (bytes.size() < 4 + 4 * rank) fail(path, "file too short for an IDX header");
    if (bytes[0] != 0 || bytes[1] != 0) fail(path, "not an IDX file (bad magic number)");
    if (bytes[2] != 0x08) fail(path, "IDX element type is not unsigned byte");
    if (bytes[3] != rank)
        fail(path,
             "IDX rank is " + std::to_string(bytes[3]) + ", expected " + std::to_string(rank));
    std::vector<std::uint32_t> dims(rank);
    std::uint64_t total = 1;
    for (unsigned i = 0; i < rank; ++i) {
        dims[i] = read_be32(bytes, 4 + 4 * i);
        total *= dims[i];
        if (total > (std::uint64_t{1} << 32)) fail(path, "IDX dimensions are implausibly large");
    }
    const std::uint64_t expected = 4 + 4 * rank + total;
    if (bytes.size() < expected)
        fail(path, "truncated: header announces " + std::to_string(total) +
                       " bytes of data, file holds " + std::to_string(bytes.size() - 4 - 4 * rank));
    if (bytes.size() > expected) fail(path, "trailing bytes after the IDX data");
    return dims;
}

// A whole cell as a number (surrounding blanks allowed); false if it is not one.
bool parse_number(const std::string& cell, double& value) {
    try {
        std::size_t used = 0;
        value = std::stod(cell, &used);
        while (used < cell.size() && std::isspace(static_cast<unsigned char>(cell[used]))) ++used;
        return used == cell.size();
    } catch (const std::exception&) {
        return false;
    }
}

std::vector<std::string> split_cells(const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    // getline drops an empty last field: "1,2," has three cells, the last one empty.
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
}

std::filesystem::path find_file(const std::filesystem::path& dir,
                                const std::vector<std::string>& candidates) {
    for (const auto& name : candidates) {
        for (const auto& suffix : {"", ".gz"}) {
            auto path = dir / (name + suffix);
            if (std::filesystem::is_regular_file(path)) return path;
        }
    }
    std::string list;
    for (const auto& name : candidates) list += (list.empty() ? "" : ", ") + name + "[.gz]";
    throw DataError(dir.string() + ": none of " + list + " found", ErrorCategory::io);
}

}  // namespace

std::int64_t Dataset::sample_size() const {
    std::int64_t size = 1;
    for (auto d : sample_shape) size *= d;
    return size;
}

Dataset Dataset::subset(const std::vector<std::int64_t>& indices) const {
    Dataset out;
    out.sample_shape = sample_shape;
    out.num_classes = num_classes;
    out.name = name;
    const auto size = sample_size();
    out.features.reserve(indices.size() * static_cast<std::size_t>(size));
    out.labels.reserve(indices.size());
    for (auto i : indices) {
        if (i < 0 || i >= count()) throw InvalidArgument("Dataset::subset: index out of range");
        out.features.insert(out.features.end(), features.begin() + i * size,
                            features.begin() + (i + 1) * size);
        out.labels.push_back(labels[static_cast<std::size_t>(i)]);
    }
    return out;
}

Dataset Dataset::head(std::int64_t n) const {
    std::vector<std::int64_t> indices(
        static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, count())));
    std::iota(indices.begin(), indices.end(), 0);
    return subset(indices);
}

std::vector<std::uint8_t> read_maybe_gzipped(const std::filesystem::path& path,
                                             std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open file", ErrorCategory::io);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
        return gunzip(path, bytes, max_bytes);
    if (bytes.size() > max_bytes)
        fail(path, "file exceeds " + std::to_string(max_bytes) + " bytes");
    return bytes;
}

IdxImages load_idx_images(const std::filesystem::path& path) {
    auto bytes = read_maybe_gzipped(path);
    auto dims = idx_dims(path, bytes, 3);
    if (dims[1] == 0 || dims[2] == 0) fail(path, "images have an empty dimension");
    IdxImages images;
    images.count = dims[0];
    images.rows = dims[1];
    images.cols = dims[2];
    images.pixels.assign(bytes.begin() + 16, bytes.end());
    return images;
}

std::vector<std::uint8_t> load_idx_labels(const std::filesystem::path& path) {
    auto bytes = read_maybe_gzipped(path);
    idx_dims(path, bytes, 1);
    return {bytes.begin() + 8, bytes.end()};
}

Dataset load_idx_dataset(const std::filesystem::path& images_path,
                         const std::filesystem::path& labels_path, std::int64_t num_classes,
                         const std::string& name) {
    auto images = load_idx_images(images_path);
    auto labels = load_idx_labels(labels_path);
    if (static_cast<std::int64_t>(labels.size()) != images.count)
        fail(labels_path, std::to_string(labels.size()) + " labels for " +
                              std::to_string(images.count) + " images in " + images_path.string());
    Dataset data;
    data.name = name;
    data.num_classes = num_classes;
    data.sample_shape = {1, images.rows, images.cols};
    data.features.resize(images.pixels.size());
    std::transform(images.pixels.begin(), images.pixels.end(), data.features.begin(),
                   [](std::uint8_t p) { return static_cast<float>(p) / 255.0f; });
    data.labels.reserve(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] >= num_classes)
            fail(labels_path, "label " + std::to_string(labels[i]) + " at index " +
                                  std::to_string(i) + " is not below " +
                                  std::to_string(num_classes));
        data.labels.push_back(labels[i]);
    }
    return data;
}

Dataset load_named_dataset(const std::string& name, const std::filesystem::path& given_dir,
                           Split split) {
    if (!std::filesystem::is_directory(given_dir))
        throw DataError(given_dir.string() + ": not a directory", ErrorCategory::io);
    // Accept both the data set's own directory and its parent (e.g. .../data or .../data/mnist).
    std::filesystem::path dir = given_dir;
    if (std::filesystem::is_directory(given_dir / name)) dir = given_dir / name;
    const bool train = split == Split::train;
    if (name == "mnist" || name == "fashion-mnist") {
        std::vector<std::string> images, labels;
        if (train) {
            images = {"train-images-idx3-ubyte", "train10k-images-idx3-ubyte"};
            labels = {"train-labels-idx1-ubyte", "train10k-labels-idx1-ubyte"};
        } else {
            images = {"t10k-images-idx3-ubyte"};
            labels = {"t10k-labels-idx1-ubyte"};
        }
        return load_idx_dataset(find_file(dir, images), find_file(dir, labels), 10, name);
    }
    if (name == "wdbc") {
        // 569 rows, no official split: a fixed 80/20 split, standardized with the training
        // part's statistics.
        auto all = load_csv_dataset(find_file(dir, {"breast_cancer.csv"}), "wdbc");
        auto parts = split_train_validation(all, 0.2, 20240601);
        const auto standardizer = Standardizer::fit(parts.train);
        standardizer.apply(parts.train);
        standardizer.apply(parts.validation);
        return train ? parts.train : parts.validation;
    }
    throw DataError("unknown data set '" + name + "' (expected mnist, fashion-mnist or wdbc)",
                    ErrorCategory::usage);
}

Table load_csv_table(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) fail(path, "cannot open file", ErrorCategory::io);
    Table table;
    std::string line;
    std::size_t line_number = 0;
    std::int64_t columns = -1;
    std::int64_t max_label = -1;
    while (std::getline(in, line)) {
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        std::vector<double> values;
        bool numeric = true;
        std::string bad_cell;
        for (const auto& c : split_cells(line)) {
            double v = 0;
            numeric = parse_number(c, v);
            if (!numeric) {
                bad_cell = c;
                break;
            }
            values.push_back(v);
        }
        // A first line that is not all numbers is a header (e.g. sklearn's
        // "569,30,malignant,benign").
        if (line_number == 1 && !numeric) continue;
        if (!numeric)
            fail(path,
                 "line " + std::to_string(line_number) + ": non-numeric cell '" + bad_cell + "'");
        if (columns < 0) {
            columns = static_cast<std::int64_t>(values.size());
            if (columns < 2) fail(path, "needs at least one feature and a label column");
        } else if (static_cast<std::int64_t>(values.size()) != columns) {
            fail(path, "line " + std::to_string(line_number) + " has " +
                           std::to_string(values.size()) + " columns, expected " +
                           std::to_string(columns));
        }
        const double label = values.back();
        if (label < 0 || label != std::floor(label) || label > 1e6)
            fail(path, "line " + std::to_string(line_number) +
                           ": label is not a small non-negative integer");
        for (std::int64_t j = 0; j + 1 < columns; ++j) {
            if (!std::isfinite(values[j]))
                fail(path, "line " + std::to_string(line_number) + ": non-finite feature");
            table.features.push_back(values[j]);
        }
        table.labels.push_back(static_cast<std::int64_t>(label));
        max_label = std::max(max_label, static_cast<std::int64_t>(label));
    }
    if (table.labels.empty()) fail(path, "no data rows");
    table.columns = static_cast<std::size_t>(columns - 1);
    table.num_classes = max_label + 1;
    return table;
}

Table load_wdbc_table(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) fail(path, "cannot open file", ErrorCategory::io);
    std::string line;
    if (!std::getline(in, line)) fail(path, "empty file");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t declared_rows = 0, features = 0;
    {
        const auto header = split_cells(line);
        double rows = 0, columns = 0;
        if (header.size() < 2 || !parse_number(header[0], rows) ||
            !parse_number(header[1], columns) || rows != std::floor(rows) ||
            columns != std::floor(columns))
            fail(path, "header must start with 'rows,features'");
        if (!(rows >= 1 && rows <= 10'000'000 && columns >= 1 && columns <= 4096))
            fail(path, "implausible header (rows, features)");
        declared_rows = static_cast<std::size_t>(rows);
        features = static_cast<std::size_t>(columns);
    }
    Table table;
    table.columns = features;
    table.num_classes = 2;
    std::size_t line_number = 1;
    while (std::getline(in, line)) {
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const auto cells = split_cells(line);
        const std::string where = "line " + std::to_string(line_number) + ": ";
        if (cells.size() != features + 1)
            fail(path, where + "expected " + std::to_string(features + 1) + " fields, found " +
                           std::to_string(cells.size()));
        for (std::size_t j = 0; j < features; ++j) {
            double v = 0;
            if (!parse_number(cells[j], v) || !std::isfinite(v))
                fail(path, where + "not a finite number: '" + cells[j] + "'");
            table.features.push_back(v);
        }
        double label = 0;
        if (!parse_number(cells[features], label) || (label != 0.0 && label != 1.0))
            fail(path, where + "label must be 0 or 1");
        table.labels.push_back(static_cast<std::int64_t>(label));
    }
    if (table.rows() != declared_rows)
        fail(path, "header announces " + std::to_string(declared_rows) + " rows, file has " +
                       std::to_string(table.rows()));
    return table;
}

Dataset to_dataset(const Table& table, const std::string& name) {
    if (table.columns == 0 || table.features.size() != table.rows() * table.columns)
        throw InvalidArgument("to_dataset: table features do not match its rows and columns");
    Dataset data;
    data.name = name;
    data.sample_shape = {static_cast<std::int64_t>(table.columns)};
    data.num_classes = table.num_classes;
    data.features.reserve(table.features.size());
    for (double v : table.features) data.features.push_back(static_cast<float>(v));
    data.labels = table.labels;
    return data;
}

Dataset load_csv_dataset(const std::filesystem::path& path, const std::string& name) {
    return to_dataset(load_csv_table(path), name);
}

TrainValidation split_train_validation(const Dataset& data, double validation_fraction,
                                       std::uint64_t seed) {
    if (!(validation_fraction >= 0.0 && validation_fraction < 1.0))
        throw InvalidArgument("validation fraction must be in [0, 1)");
    std::vector<std::int64_t> order(static_cast<std::size_t>(data.count()));
    std::iota(order.begin(), order.end(), 0);
    // A portable shuffle (std::shuffle's algorithm is implementation-defined): Fisher-Yates
    // driven by mt19937_64, whose output sequence is fixed by the standard.
    std::mt19937_64 rng(seed);
    for (std::size_t i = order.size(); i > 1; --i) {
        std::size_t j = static_cast<std::size_t>(rng() % i);
        std::swap(order[i - 1], order[j]);
    }
    const auto train_count = static_cast<std::size_t>(
        std::llround(static_cast<double>(order.size()) * (1.0 - validation_fraction)));
    std::vector<std::int64_t> train(order.begin(), order.begin() + train_count);
    std::vector<std::int64_t> validation(order.begin() + train_count, order.end());
    return {data.subset(train), data.subset(validation)};
}

namespace {

template <class T>
Standardizer fit_values(std::span<const T> values, std::size_t columns) {
    if (columns == 0 || values.size() % columns != 0)
        throw InvalidArgument("Standardizer::fit: values are not rows of the given width");
    const std::size_t rows = values.size() / columns;
    if (rows == 0) throw InvalidArgument("Standardizer::fit on an empty data set");
    const auto n = static_cast<double>(rows);
    Standardizer s;
    s.mean.assign(columns, 0.0);
    s.stddev.assign(columns, 0.0);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < columns; ++j) s.mean[j] += values[i * columns + j];
    for (auto& m : s.mean) m /= n;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < columns; ++j) {
            const double d = values[i * columns + j] - s.mean[j];
            s.stddev[j] += d * d;
        }
    for (auto& v : s.stddev) {
        v = std::sqrt(v / n);
        if (v == 0) v = 1.0;
    }
    return s;
}

template <class T>
void apply_values(const Standardizer& s, std::span<T> values, double clip) {
    const std::size_t columns = s.mean.size();
    if (columns == 0 || values.size() % columns != 0)
        throw InvalidArgument("Standardizer: feature count mismatch");
    for (std::size_t i = 0; i < values.size(); i += columns)
        for (std::size_t j = 0; j < columns; ++j) {
            T& v = values[i + j];
            v = static_cast<T>(std::clamp((v - s.mean[j]) / s.stddev[j], -clip, clip));
        }
}

}  // namespace

Standardizer Standardizer::fit(const Dataset& data) {
    if (data.count() == 0) throw InvalidArgument("Standardizer::fit on an empty data set");
    return fit_values(std::span<const float>(data.features),
                      static_cast<std::size_t>(data.sample_size()));
}

Standardizer Standardizer::fit(std::span<const double> values, std::size_t columns) {
    return fit_values(values, columns);
}

void Standardizer::apply(Dataset& data, double clip) const {
    if (static_cast<std::int64_t>(mean.size()) != data.sample_size())
        throw InvalidArgument("Standardizer: feature count mismatch");
    apply_values(*this, std::span<float>(data.features), clip);
}

void Standardizer::apply(std::span<double> values, double clip) const {
    apply_values(*this, values, clip);
}

}  // namespace henn::data

// Data sets for training and evaluation: IDX image/label files (MNIST, Fashion-MNIST), gzipped
// or raw, and numeric CSV tables (WDBC). Every loader validates what it reads and throws
// henn::data::DataError naming the file and the problem. This layer depends on no other henn
// layer; paths always come from the caller.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "henn/error.hpp"

namespace henn::data {

// A data set that is missing (io) or malformed (data).
struct DataError : ::henn::Error {
    explicit DataError(const std::string& message, ErrorCategory category = ErrorCategory::data)
        : ::henn::Error(category, message) {}
};

// A labelled data set held in memory: `count` samples of `sample_shape` (e.g. {1, 28, 28} or
// {30}), stored row-major one sample after another as float (what libtorch trains on).
struct Dataset {
    std::vector<std::int64_t> sample_shape;
    std::vector<float> features;
    std::vector<std::int64_t> labels;
    std::int64_t num_classes = 0;
    std::string name;

    std::int64_t count() const { return static_cast<std::int64_t>(labels.size()); }
    std::int64_t sample_size() const;
    // A copy holding only the samples at `indices` (in that order).
    Dataset subset(const std::vector<std::int64_t>& indices) const;
    Dataset head(std::int64_t n) const;
};

// Reads a whole file, transparently gunzipping it when it starts with the gzip magic bytes.
// `max_bytes` bounds the decompressed size so that a hostile file cannot exhaust memory.
std::vector<std::uint8_t> read_maybe_gzipped(const std::filesystem::path& path,
                                             std::size_t max_bytes = std::size_t{1} << 31);

// IDX (LeCun's format): images as uint8 rank-3 tensors, labels as uint8 rank-1 tensors.
struct IdxImages {
    std::int64_t count = 0, rows = 0, cols = 0;
    std::vector<std::uint8_t> pixels;
};
IdxImages load_idx_images(const std::filesystem::path& path);
std::vector<std::uint8_t> load_idx_labels(const std::filesystem::path& path);

// Images scaled to [0, 1] (pixel / 255), shape {1, rows, cols}; `num_classes` bounds the labels.
Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::int64_t num_classes, const std::string& name);

enum class Split { train, test };

// Named data sets under a directory given by the user:
//   mnist:          train10k-images-idx3-ubyte[.gz] (or train-images-...) and t10k-...
//   fashion-mnist:  train-images-idx3-ubyte[.gz] and t10k-...
//   wdbc:           breast_cancer.csv, split 80/20 with a fixed seed, standardized on the train
//   part
// DIR may be the data set's directory or its parent.
// Files are looked up with and without ".gz".
Dataset load_named_dataset(const std::string& name, const std::filesystem::path& dir, Split split);

// A labelled numeric table in double precision, as read from a CSV file before any conversion.
struct Table {
    std::size_t columns = 0;           // features per row
    std::vector<double> features;      // rows x columns, row-major
    std::vector<std::int64_t> labels;  // one non-negative integer class label per row
    std::int64_t num_classes = 0;      // 1 + the largest label (WDBC: 2)
    std::size_t rows() const { return labels.size(); }
};

// A numeric CSV table whose last column is an integer class label. If the first line is not
// numeric (or is the sklearn-style "rows,cols,names..." line) it is treated as a header.
Table load_csv_table(const std::filesystem::path& path);

// The WDBC table as sklearn ships it (breast_cancer.csv): a first line "rows,features,name0,name1",
// then per row `features` numbers and a 0/1 label. Stricter than load_csv_table: the header is
// required and its counts must match the file, labels must be 0 or 1, every value finite.
Table load_wdbc_table(const std::filesystem::path& path);

// A table as a Dataset: float features of shape {columns}, the table's labels and classes.
Dataset to_dataset(const Table& table, const std::string& name);

// load_csv_table as a Dataset.
Dataset load_csv_dataset(const std::filesystem::path& path, const std::string& name = "csv");

// Fixed-seed shuffle and split: the first part gets round(count * (1 - validation_fraction)).
struct TrainValidation {
    Dataset train, validation;
};
TrainValidation split_train_validation(const Dataset& data, double validation_fraction,
                                       std::uint64_t seed);

// Per-feature standardization fitted on one set and applied to others (tabular data): the mean
// and the population standard deviation of each feature (1 for a constant feature), computed in
// double. apply() maps x to (x - mean) / stddev, clipped to [-clip, clip].
struct Standardizer {
    std::vector<double> mean, stddev;
    static Standardizer fit(const Dataset& data);
    // `values`: rows x columns, row-major.
    static Standardizer fit(std::span<const double> values, std::size_t columns);
    void apply(Dataset& data, double clip = std::numeric_limits<double>::infinity()) const;
    void apply(std::span<double> values,
               double clip = std::numeric_limits<double>::infinity()) const;
};

}  // namespace henn::data

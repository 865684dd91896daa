#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "henn/data/data.hpp"
#include "henn/error.hpp"
#include "test_data.hpp"

namespace fs = std::filesystem;
using namespace henn::data;

namespace {

fs::path temp_dir() {
    auto dir = fs::temp_directory_path() / ("henn_data_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

std::vector<std::uint8_t> idx_bytes(std::vector<std::uint32_t> dims,
                                    const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> out{0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
    for (auto d : dims)
        for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(d >> shift));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
}

// Three 2x3 images with known pixels and labels.
const std::vector<std::uint8_t> kPixels{0, 255, 51, 102, 153, 204, 1, 2,  3,
                                        4, 5,   6,  255, 255, 0,   0, 10, 20};
const std::vector<std::uint8_t> kLabels{7, 0, 9};

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const DataError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Data, IdxRawAndGzippedGiveTheSameScaledPixels) {
    const auto dir = temp_dir();
    write(dir / "img", idx_bytes({3, 2, 3}, kPixels));
    write(dir / "lab", idx_bytes({3}, kLabels));
    write_gz(dir / "img.gz", idx_bytes({3, 2, 3}, kPixels));
    write_gz(dir / "lab.gz", idx_bytes({3}, kLabels));
    for (auto [img, lab] : {std::pair{"img", "lab"}, std::pair{"img.gz", "lab.gz"}}) {
        auto data = load_idx_dataset(dir / img, dir / lab, 10, "toy");
        ASSERT_EQ(data.count(), 3);
        EXPECT_EQ(data.sample_shape, (std::vector<std::int64_t>{1, 2, 3}));
        ASSERT_EQ(data.features.size(), kPixels.size());
        for (std::size_t i = 0; i < kPixels.size(); ++i)
            EXPECT_FLOAT_EQ(data.features[i], kPixels[i] / 255.0f);
        EXPECT_EQ(data.labels, (std::vector<std::int64_t>{7, 0, 9}));
    }
}

TEST(Data, MalformedIdxFilesAreClearErrorsNamingTheFile) {
    const auto dir = temp_dir();
    auto good = idx_bytes({3, 2, 3}, kPixels);
    auto truncated = good;
    truncated.resize(truncated.size() - 5);
    write(dir / "truncated", truncated);
    EXPECT_NE(error_of([&] { load_idx_images(dir / "truncated"); }).find("truncated"),
              std::string::npos);
    EXPECT_NE(
        error_of([&] { load_idx_images(dir / "truncated"); }).find((dir / "truncated").string()),
        std::string::npos);

    auto bad_magic = good;
    bad_magic[0] = 0x12;
    write(dir / "magic", bad_magic);
    EXPECT_NE(error_of([&] { load_idx_images(dir / "magic"); }).find("magic"), std::string::npos);

    write(dir / "rank", idx_bytes({3}, kLabels));
    EXPECT_NE(error_of([&] { load_idx_images(dir / "rank"); }).find("rank"), std::string::npos);

    // A gzip stream cut in the middle.
    write_gz(dir / "cut.gz", good);
    std::vector<std::uint8_t> gz;
    {
        std::ifstream in(dir / "cut.gz", std::ios::binary);
        gz.assign(std::istreambuf_iterator<char>(in), {});
    }
    gz.resize(gz.size() / 2);
    write(dir / "cut.gz", gz);
    EXPECT_NE(error_of([&] { load_idx_images(dir / "cut.gz"); }).find("gzip"), std::string::npos);

    // Huge announced dimensions must not allocate.
    write(dir / "huge", idx_bytes({0xffffffffu, 0xffffffffu, 28}, {}));
    EXPECT_FALSE(error_of([&] { load_idx_images(dir / "huge"); }).empty());

    write(dir / "img", good);
    write(dir / "two_labels", idx_bytes({2}, {1, 2}));
    EXPECT_NE(error_of([&] {
                  load_idx_dataset(dir / "img", dir / "two_labels", 10, "x");
              }).find("2 labels for 3 images"),
              std::string::npos);
    write(dir / "big_label", idx_bytes({3}, {1, 2, 10}));
    EXPECT_NE(error_of([&] {
                  load_idx_dataset(dir / "img", dir / "big_label", 10, "x");
              }).find("label 10"),
              std::string::npos);
    EXPECT_NE(error_of([&] { load_idx_images(dir / "missing"); }).find("cannot open"),
              std::string::npos);
}

TEST(Data, CsvTablesWithHeaderAndErrors) {
    const auto dir = temp_dir();
    std::ofstream(dir / "t.csv") << "4,2,a,b\n1.5,2,0\n-3,4e1,1\n5,6,1\r\n\n7,8,2\n";
    auto data = load_csv_dataset(dir / "t.csv");
    EXPECT_EQ(data.count(), 4);
    EXPECT_EQ(data.sample_shape, (std::vector<std::int64_t>{2}));
    EXPECT_EQ(data.num_classes, 3);
    EXPECT_EQ(data.features, (std::vector<float>{1.5f, 2, -3, 40, 5, 6, 7, 8}));
    EXPECT_EQ(data.labels, (std::vector<std::int64_t>{0, 1, 1, 2}));

    std::ofstream(dir / "ragged.csv") << "1,2,0\n1,0\n";
    EXPECT_NE(error_of([&] { load_csv_dataset(dir / "ragged.csv"); }).find("line 2 has 2 columns"),
              std::string::npos);
    std::ofstream(dir / "text.csv") << "1,2,0\n1,x,0\n";
    EXPECT_NE(error_of([&] { load_csv_dataset(dir / "text.csv"); }).find("non-numeric"),
              std::string::npos);
    EXPECT_NE(
        error_of([&] { load_csv_dataset(dir / "text.csv"); }).find("line 2: non-numeric cell 'x'"),
        std::string::npos);
    // A trailing comma is an empty last field, not a shorter row.
    std::ofstream(dir / "comma.csv") << "1,2,0\n1,2,0,\n";
    EXPECT_NE(error_of([&] { load_csv_dataset(dir / "comma.csv"); }).find("line 2"),
              std::string::npos);
    std::ofstream(dir / "label.csv") << "1,2,0.5\n";
    EXPECT_NE(error_of([&] { load_csv_dataset(dir / "label.csv"); }).find("label"),
              std::string::npos);
}

// sklearn's breast_cancer.csv layout, checked strictly: header counts, field counts, 0/1 labels.
TEST(Data, WdbcTableChecksHeaderCountsAndLabels) {
    const auto dir = temp_dir();
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir / name) << text;
        return dir / name;
    };
    const auto ok = load_wdbc_table(write("ok.csv", "2,2,a,b\n1.5,-2,0\r\n\n3,4e1,1\n"));
    EXPECT_EQ(ok.rows(), 2u);
    EXPECT_EQ(ok.columns, 2u);
    EXPECT_EQ(ok.num_classes, 2);
    EXPECT_EQ(ok.features, (std::vector<double>{1.5, -2, 3, 40}));
    EXPECT_EQ(ok.labels, (std::vector<std::int64_t>{0, 1}));
    const auto as_dataset = to_dataset(ok, "w");
    EXPECT_EQ(as_dataset.sample_shape, (std::vector<std::int64_t>{2}));
    EXPECT_EQ(as_dataset.features, (std::vector<float>{1.5f, -2, 3, 40}));
    EXPECT_EQ(as_dataset.num_classes, 2);

    auto error = [&](const std::string& name, const std::string& text) {
        return error_of([&] { load_wdbc_table(write(name, text)); });
    };
    EXPECT_NE(
        error("rows.csv", "3,2,a,b\n1,2,0\n3,4,1\n").find("header announces 3 rows, file has 2"),
        std::string::npos);
    EXPECT_NE(
        error("fields.csv", "2,2,a,b\n1,2,0\n3,1\n").find("line 3: expected 3 fields, found 2"),
        std::string::npos);
    EXPECT_NE(error("label.csv", "1,2,a,b\n1,2,0.5\n").find("label must be 0 or 1"),
              std::string::npos);
    EXPECT_NE(error("label2.csv", "1,2,a,b\n1,2,2\n").find("label must be 0 or 1"),
              std::string::npos);
    EXPECT_NE(error("nan.csv", "1,2,a,b\nnan,2,1\n").find("not a finite number: 'nan'"),
              std::string::npos);
    EXPECT_NE(error("text.csv", "1,2,a,b\n1,2x,1\n").find("not a finite number: '2x'"),
              std::string::npos);
    EXPECT_NE(error("comma.csv", "1,2,a,b\n1,2,1,\n").find("line 2: expected 3 fields, found 4"),
              std::string::npos);
    EXPECT_NE(error("header.csv", "x,y\n").find("header must start with 'rows,features'"),
              std::string::npos);
    EXPECT_NE(error("zero.csv", "0,2,a,b\n").find("implausible header"), std::string::npos);
    EXPECT_NE(error("empty.csv", "").find("empty file"), std::string::npos);
    EXPECT_NE(error_of([&] { load_wdbc_table(dir / "missing.csv"); }).find("cannot open"),
              std::string::npos);
}

TEST(Data, StandardizerFitsOnOneSetAndClips) {
    // 4 rows x 2 columns; the second column is constant (its deviation is taken as 1).
    const std::vector<double> values{1, 5, 2, 5, 3, 5, 10, 5};
    const auto s = Standardizer::fit(values, 2);
    EXPECT_DOUBLE_EQ(s.mean[0], 4.0);
    EXPECT_DOUBLE_EQ(s.stddev[0], std::sqrt((9.0 + 4 + 1 + 36) / 4));
    EXPECT_EQ(s.mean[1], 5.0);
    EXPECT_EQ(s.stddev[1], 1.0);
    auto v = values;
    s.apply(v);
    double sum = 0, squares = 0;
    for (std::size_t i = 0; i < 8; i += 2) {
        sum += v[i];
        squares += v[i] * v[i];
        EXPECT_EQ(v[i + 1], 0.0);
    }
    EXPECT_NEAR(sum, 0.0, 1e-12);
    EXPECT_NEAR(squares / 4, 1.0, 1e-12);
    auto clipped = values;
    s.apply(clipped, 1.5);
    EXPECT_EQ(clipped[6], 1.5);  // (10 - 4) / 3.54 = 1.70, clipped
    EXPECT_DOUBLE_EQ(clipped[0], -3 / s.stddev[0]);

    // The Dataset (float) versions give the same statistics and values.
    Dataset d;
    d.sample_shape = {2};
    d.features.assign(values.begin(), values.end());
    d.labels = {0, 1, 0, 1};
    const auto sf = Standardizer::fit(d);
    EXPECT_EQ(sf.mean, s.mean);
    EXPECT_EQ(sf.stddev, s.stddev);
    sf.apply(d);
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(d.features[i], static_cast<float>(v[i]));

    EXPECT_THROW(Standardizer::fit(std::vector<double>{1, 2, 3}, 2), henn::InvalidArgument);
    EXPECT_THROW(Standardizer::fit(std::vector<double>{}, 2), henn::InvalidArgument);
    std::vector<double> wrong{1, 2, 3};
    EXPECT_THROW(s.apply(wrong), henn::InvalidArgument);
}

TEST(Data, SplitsAreDeterministicPartitions) {
    Dataset d;
    d.sample_shape = {1};
    d.num_classes = 2;
    for (int i = 0; i < 100; ++i) {
        d.features.push_back(static_cast<float>(i));
        d.labels.push_back(i % 2);
    }
    auto a = split_train_validation(d, 0.2, 7);
    auto b = split_train_validation(d, 0.2, 7);
    auto c = split_train_validation(d, 0.2, 8);
    EXPECT_EQ(a.train.count(), 80);
    EXPECT_EQ(a.validation.count(), 20);
    EXPECT_EQ(a.train.features, b.train.features);
    EXPECT_NE(a.train.features, c.train.features);
    std::vector<float> all = a.train.features;
    all.insert(all.end(), a.validation.features.begin(), a.validation.features.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, d.features);  // a partition: every sample exactly once
    for (std::int64_t i = 0; i < a.train.count(); ++i)
        EXPECT_EQ(a.train.labels[i],
                  static_cast<std::int64_t>(a.train.features[i]) % 2);  // labels travel along
}

TEST(Data, RealMnistAndWdbc) {
    const auto dir = henn::test::data_dir();
    if (dir.empty() || !fs::exists(fs::path(dir) / "mnist"))
        HENN_SKIP_WITHOUT_DATA("MNIST not found under --data-dir");
    auto test = load_named_dataset("mnist", dir, Split::test);
    ASSERT_EQ(test.count(), 10000);
    EXPECT_EQ(test.sample_shape, (std::vector<std::int64_t>{1, 28, 28}));
    std::vector<int> per_class(10);
    for (auto l : test.labels) per_class[static_cast<std::size_t>(l)]++;
    EXPECT_EQ(per_class[0], 980);  // the official test set's class counts
    EXPECT_EQ(per_class[1], 1135);
    auto [lo, hi] = std::minmax_element(test.features.begin(), test.features.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
    auto train = load_named_dataset("mnist", fs::path(dir) / "mnist", Split::train);
    EXPECT_EQ(train.count(), 10000);

    if (!fs::exists(fs::path(dir) / "wdbc")) HENN_SKIP_WITHOUT_DATA("WDBC not found");
    auto wtrain = load_named_dataset("wdbc", dir, Split::train);
    auto wtest = load_named_dataset("wdbc", dir, Split::test);
    EXPECT_EQ(wtrain.count() + wtest.count(), 569);
    EXPECT_EQ(wtest.count(), 114);
    EXPECT_EQ(wtrain.sample_shape, (std::vector<std::int64_t>{30}));
    EXPECT_EQ(wtrain.num_classes, 2);
    // Standardized on the training part: mean 0, variance 1 per feature there.
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < wtrain.count(); ++i) mean += wtrain.features[i * 30];
    mean /= static_cast<double>(wtrain.count());
    for (std::int64_t i = 0; i < wtrain.count(); ++i)
        var += std::pow(wtrain.features[i * 30] - mean, 2);
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(var / static_cast<double>(wtrain.count()), 1.0, 1e-4);
}

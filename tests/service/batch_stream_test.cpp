// BundleWriter and BundleReader (ciphertext bundles a chunk at a time) against the engine's own
// save_batches / load_batches: the same bytes read back to the same ciphertexts whatever the
// chunking, and every malformed bundle refused with the engine's error types.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "henn/ckks/serialization.hpp"
#include "henn/engine/errors.hpp"
#include "henn/nn/model.hpp"
#include "henn/service/batch_stream.hpp"
#include "henn/service/grpc_common.hpp"
#include "random_values.hpp"

using namespace henn;
using namespace henn::service;

namespace {

using henn::test::random_vector;

// 6 -> 4 -> x^2 -> 2 at the smallest 128-bit parameters.
engine::CompiledModelPtr tiny_model(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto dense = [&](std::int64_t in, std::int64_t out) {
        nn::Dense d;
        d.in_features = in;
        d.out_features = out;
        d.weight = random_vector(static_cast<std::size_t>(in * out), rng, -0.4, 0.4);
        d.bias = random_vector(static_cast<std::size_t>(out), rng, -0.2, 0.2);
        return d;
    };
    nn::Polynomial square;
    square.coefficients = {0, 0, 1};
    const nn::Model model({6}, {{"fc1", dense(6, 4)}, {"sq", square}, {"fc2", dense(4, 2)}});
    engine::CompileOptions options;
    options.calibration = random_vector(6 * 16, rng, 0, 1);
    options.calibration_count = 16;
    return engine::CompiledModel::compile(model, options);
}

struct Fixture {
    engine::CompiledModelPtr model = tiny_model(3);
    engine::Client client = engine::Client::with_test_only_seed(model, 7);
    std::vector<engine::EncryptedBatch> batches;
    Fixture() {
        std::mt19937_64 rng(9);
        const std::int64_t count = model->batch_size() + 5;  // two batches, the last one partial
        batches =
            client.encrypt(random_vector(static_cast<std::size_t>(count * 6), rng, 0, 1), count);
    }
};

const Fixture& fixture() {
    static const Fixture f;
    return f;
}

// The whole bundle through a BundleWriter in messages of `chunk` bytes.
std::string write_all(const engine::CompiledModel& model,
                      std::span<const engine::EncryptedBatch> batches, std::size_t chunk) {
    BundleWriter writer(model, batches, engine::BundleKind::inputs);
    std::string all, part;
    while (writer.next(part, chunk)) {
        all += part;
        part.clear();
    }
    EXPECT_EQ(all.size(), writer.size());
    return all;
}

// `bytes` fed in chunks of `chunk` bytes, every framed blob parsed, then finish().
std::vector<engine::EncryptedBatch> read_all(const engine::CompiledModel& model,
                                             std::string_view bytes, std::size_t chunk) {
    BundleReader reader(model, engine::BundleKind::inputs, bytes.size());
    std::vector<BundleReader::Blob> blobs;
    for (std::size_t at = 0; at < bytes.size(); at += chunk)
        reader.feed(std::make_shared<const std::string>(bytes.substr(at, chunk)), blobs);
    for (const auto& b : blobs) reader.parse(b);
    return reader.finish();
}

void expect_same(const std::vector<engine::EncryptedBatch>& a,
                 const std::vector<engine::EncryptedBatch>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        EXPECT_EQ(a[k].samples, b[k].samples);
        EXPECT_EQ(a[k].model_hash, b[k].model_hash);
        ASSERT_EQ(a[k].ciphertexts.size(), b[k].ciphertexts.size());
        for (std::size_t i = 0; i < a[k].ciphertexts.size(); ++i) {
            const auto& x = a[k].ciphertexts[i];
            const auto& y = b[k].ciphertexts[i];
            EXPECT_EQ(x.level, y.level);
            EXPECT_EQ(x.scale, y.scale);
            EXPECT_EQ(x.slots, y.slots);
            EXPECT_EQ(x.c1_seed, y.c1_seed);
            ASSERT_EQ(x.size(), y.size());
            for (std::size_t p = 0; p < x.size(); ++p) EXPECT_EQ(x.polys[p].data, y.polys[p].data);
        }
    }
}

}  // namespace

TEST(ServiceBundleStream, WriterBytesAreABundleTheEngineLoads) {
    const auto& f = fixture();
    const auto reference = engine::load_batches(
        *f.model, engine::save_batches(*f.model, f.batches, engine::BundleKind::inputs),
        engine::BundleKind::inputs);
    for (std::size_t chunk : {std::size_t{1000}, std::size_t{1} << 20}) {
        const std::string bytes = write_all(*f.model, f.batches, chunk);
        const auto loaded = engine::load_batches(
            *f.model,
            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                          bytes.size()),
            engine::BundleKind::inputs);
        expect_same(loaded, reference);
    }
    // Stored uncompressed (save_batches compresses): the first blob's own header says so.
    auto first_blob = [](std::span<const std::uint8_t> bundle) {
        std::uint64_t length = 0;
        std::memcpy(&length, bundle.data() + 27 + 16, sizeof length);
        return ckks::read_header(bundle.subspan(27 + 16 + 8, length));
    };
    const std::string bytes = write_all(*f.model, f.batches, 1 << 20);
    EXPECT_EQ(first_blob(std::span<const std::uint8_t>(
                             reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))
                  .compression,
              ckks::Compression::kNone);
    EXPECT_EQ(first_blob(engine::save_batches(*f.model, f.batches, engine::BundleKind::inputs))
                  .compression,
              ckks::Compression::kZstd);
}

TEST(ServiceBundleStream, ReaderGivesTheEngineLoadersCiphertextsWhateverTheChunks) {
    const auto& f = fixture();
    const auto engine_bytes = engine::save_batches(*f.model, f.batches, engine::BundleKind::inputs);
    const std::string zstd_bundle(engine_bytes.begin(), engine_bytes.end());
    const auto reference = engine::load_batches(*f.model, engine_bytes, engine::BundleKind::inputs);
    const std::string plain_bundle = write_all(*f.model, f.batches, 1 << 20);
    // Chunks of 1 and 7 bytes split every field; 4096 splits blobs; 1 MiB holds the bundle.
    for (const std::string* bundle : {&zstd_bundle, &plain_bundle}) {
        for (std::size_t chunk :
             {std::size_t{1}, std::size_t{7}, std::size_t{4096}, std::size_t{1} << 20}) {
            SCOPED_TRACE(chunk);
            expect_same(read_all(*f.model, *bundle, chunk), reference);
        }
    }
}

TEST(ServiceBundleStream, MalformedBundlesAreRefusedLikeTheEngineLoader) {
    const auto& f = fixture();
    const std::string good = write_all(*f.model, f.batches, 1 << 20);
    auto refused = [&](const std::string& bytes, std::uint64_t announced, std::size_t chunk) {
        BundleReader reader(*f.model, engine::BundleKind::inputs, announced);
        std::vector<BundleReader::Blob> blobs;
        for (std::size_t at = 0; at < bytes.size(); at += chunk)
            reader.feed(std::make_shared<const std::string>(bytes.substr(at, chunk)), blobs);
        for (const auto& b : blobs) reader.parse(b);
        reader.finish();
    };
    // The valid bundle passes (so each refusal below is the edit's doing).
    EXPECT_NO_THROW(refused(good, good.size(), 4096));

    std::string bad = good;
    bad[0] = 'X';  // magic
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::FormatError);
    bad = good;
    bad[10] = 2;  // kind: outputs
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::FormatError);
    bad = good;
    bad[11] ^= 1;  // model hash
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::KeyMismatchError);
    bad = good;
    const std::uint64_t many = 1u << 19;  // batches: more than the bytes could hold
    std::memcpy(bad.data() + 19, &many, sizeof many);
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::FormatError);
    bad = good;
    const std::uint64_t five = 5;  // ciphertexts per batch: not the model's input count
    std::memcpy(bad.data() + 27 + 8, &five, sizeof five);
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::FormatError);
    bad = good;
    bad[27 + 16 + 8 + 1] ^= 0x40;  // the first ciphertext blob's own magic
    EXPECT_THROW(refused(bad, bad.size(), 4096), engine::FormatError);
    // Truncated: announced whole, cut short.
    EXPECT_THROW(refused(good.substr(0, good.size() - 10), good.size(), 4096), engine::FormatError);
    // Trailing bytes, announced.
    EXPECT_THROW(refused(good + "extra", good.size() + 5, 4096), engine::FormatError);
    // More bytes than announced.
    EXPECT_THROW(refused(good, good.size() - 1, 4096), engine::FormatError);
}

TEST(ServiceBundleStream, WriterRefusesACiphertextOfAnotherSizeThanAnnounced) {
    const auto& f = fixture();
    auto batches = f.batches;
    // c_1 changed after encryption: it no longer matches its seed, so it is stored whole and
    // the blob is larger than the seeded ones of the same shape.
    for (std::size_t i = 0; i < 32; ++i) batches[0].ciphertexts[1].polys[1].data[i] ^= 1;
    BundleWriter writer(*f.model, batches, engine::BundleKind::inputs);
    std::string part;
    try {
        while (writer.next(part, 1 << 20)) part.clear();
        ADD_FAILURE() << "a ciphertext of another size was written";
    } catch (const ServiceError& e) {
        EXPECT_EQ(e.code, grpc::StatusCode::INTERNAL) << e.what();
    }
}

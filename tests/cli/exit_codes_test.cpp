// The CLI's exit-code policy: every error category maps to its documented status, the layers'
// typed errors carry the right category, and untyped exceptions count as bugs.
#include "../../cli/exit_codes.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <stdexcept>

#include "henn/ckks/errors.hpp"
#include "henn/data/data.hpp"
#include "henn/engine/errors.hpp"
#include "henn/nn/model.hpp"

namespace henn::cli {
namespace {

TEST(ExitCodes, EveryCategoryHasItsDocumentedStatus) {
    const std::map<ErrorCategory, int> documented = {
        {ErrorCategory::usage, 2},     {ErrorCategory::parameters, 3}, {ErrorCategory::data, 4},
        {ErrorCategory::io, 4},        {ErrorCategory::protocol, 5},   {ErrorCategory::crypto, 6},
        {ErrorCategory::internal, 70},
    };
    ASSERT_EQ(documented.size(), std::size(kAllErrorCategories));
    for (ErrorCategory category : kAllErrorCategories) {
        EXPECT_EQ(exit_code_for(category), documented.at(category)) << category_name(category);
        // The help text names every status.
        EXPECT_NE(std::string(kExitCodeTable).find(std::to_string(exit_code_for(category)) + " "),
                  std::string::npos);
    }
}

TEST(ExitCodes, LayerErrorsCarryTheirCategory) {
    EXPECT_EQ(exit_report(ckks::ParameterError("insecure")).code, 3);
    EXPECT_EQ(exit_report(ckks::SerializationError("truncated")).code, 4);
    EXPECT_EQ(exit_report(ckks::LevelError("no level left")).code, 6);
    EXPECT_EQ(exit_report(ckks::MissingKeyError("no rotation key")).code, 6);
    EXPECT_EQ(exit_report(engine::CompileError("too deep")).code, 3);
    EXPECT_EQ(exit_report(engine::FormatError("bad bundle")).code, 4);
    EXPECT_EQ(exit_report(engine::KeyMismatchError("other model")).code, 5);
    EXPECT_EQ(exit_report(data::DataError("bad IDX")).code, 4);
    EXPECT_EQ(exit_report(nn::ModelError("bad shape")).code, 3);
    EXPECT_EQ(exit_report(InvalidArgument("degree out of range")).code, 2);
    EXPECT_EQ(exit_report(InternalError("invariant")).code, 70);
}

TEST(ExitCodes, TypedErrorsStayRuntimeErrors) {
    // Catch sites written for std::runtime_error keep working.
    EXPECT_THROW(throw ckks::ScaleError("scale"), std::runtime_error);
    EXPECT_THROW(throw engine::FormatError("format"), std::runtime_error);
    EXPECT_THROW(throw ckks::MismatchError("mixed"), Error);
}

TEST(ExitCodes, CommandFailuresAndUntypedExceptions) {
    const ExitReport usage =
        exit_report(CommandFailure(ErrorCategory::usage, "--degree: not a number"));
    EXPECT_EQ(usage.code, 2);
    EXPECT_EQ(usage.message, "henn: --degree: not a number");
    EXPECT_EQ(exit_report(CommandFailure(ErrorCategory::protocol, "keys of another model")).code,
              5);
    EXPECT_EQ(exit_report(CommandFailure(ErrorCategory::crypto, "no level left")).code, 6);
    EXPECT_EQ(exit_report(CommandFailure(ErrorCategory::internal, "kernels disagree")).code, 70);
    EXPECT_EQ(exit_report(CommandFailure(ErrorCategory::io, "cannot write")).code, 4);
    const ExitReport bug = exit_report(std::logic_error("oops"));
    EXPECT_EQ(bug.code, 70);
    EXPECT_EQ(bug.message, "henn: internal error: oops");
    EXPECT_EQ(
        exit_report(std::filesystem::filesystem_error("cannot create", std::error_code())).code, 4);
}

}  // namespace
}  // namespace henn::cli

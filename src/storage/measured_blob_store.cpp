#include "storage/measured_blob_store.hpp"

#include <algorithm>

#include "core/metrics.hpp"

namespace berth::storage {
namespace {

using Clock = std::chrono::steady_clock;

// A failure of the store itself; a missing blob or a conflict is an answer, not a failure.
template <class R>
bool failed(const R& result) {
  if (result.ok()) return false;
  const auto code = result.error().code;
  return code == ApiCode::Unknown || code == ApiCode::InsufficientStorage;
}

template <class Call>
auto timed(const metrics::Operation& op, Call&& call) {
  const auto started = Clock::now();
  auto result = call();
  op.record(Clock::now() - started, !failed(result));
  return result;
}

// The instruments of one operation, looked up once.
template <size_t N>
struct OpName {
  char text[N];
  constexpr OpName(const char (&name)[N]) { std::copy_n(name, N, text); }
};
template <OpName name>
const metrics::Operation& op() {
  static const auto instruments = metrics::operation("blob_store", name.text);
  return instruments;
}

class MeasuredWriter final : public UploadWriter {
 public:
  explicit MeasuredWriter(UploadWriterPtr inner) : inner_(std::move(inner)) {}
  Result<void> write(const char* data, size_t size) override {
    return timed(op<"write">(), [&] { return inner_->write(data, size); });
  }
  bool acceptsPipe() const override { return inner_->acceptsPipe(); }
  Result<void> writeFromPipe(int pipe, size_t size) override {
    return timed(op<"write">(), [&] { return inner_->writeFromPipe(pipe, size); });
  }
  uint64_t size() const override { return inner_->size(); }
  Result<void> close() override {
    return timed(op<"close_upload">(), [&] { return inner_->close(); });
  }
  bool blocking() const override { return inner_->blocking(); }

 private:
  UploadWriterPtr inner_;
};

Result<UploadWriterPtr> measuredWriter(Result<UploadWriterPtr> writer) {
  if (!writer) return writer;
  return UploadWriterPtr(std::make_unique<MeasuredWriter>(std::move(*writer)));
}

class MeasuredBlobStore final : public BlobStore {
 public:
  explicit MeasuredBlobStore(BlobStorePtr inner) : inner_(std::move(inner)) {}

  Result<void> check() override {
    return timed(op<"check">(), [&] { return inner_->check(); });
  }
  bool blocking() const override { return inner_->blocking(); }
  Result<std::optional<uint64_t>> stat(const Digest& digest) override {
    return timed(op<"stat">(), [&] { return inner_->stat(digest); });
  }
  Result<BlobReader> open(const Digest& digest) override {
    return timed(op<"open">(), [&] { return inner_->open(digest); });
  }
  Result<BlobReader> openSized(const Digest& digest, uint64_t size) override {
    return timed(op<"open">(), [&] { return inner_->openSized(digest, size); });
  }
  std::string readUrl(const Digest& digest) override { return inner_->readUrl(digest); }
  Result<void> remove(const Digest& digest) override {
    return timed(op<"remove">(), [&] { return inner_->remove(digest); });
  }
  Result<void> createUpload(std::string_view id) override {
    return timed(op<"create_upload">(), [&] { return inner_->createUpload(id); });
  }
  Result<uint64_t> uploadSize(std::string_view id) override {
    return timed(op<"upload_size">(), [&] { return inner_->uploadSize(id); });
  }
  Result<UploadWriterPtr> appendUpload(std::string_view id) override {
    return measuredWriter(timed(op<"append_upload">(), [&] { return inner_->appendUpload(id); }));
  }
  Result<UploadWriterPtr> appendLast(std::string_view id, const Digest& digest) override {
    return measuredWriter(
        timed(op<"append_upload">(), [&] { return inner_->appendLast(id, digest); }));
  }
  Result<BlobInfo> verifyUpload(std::string_view id, const Digest& expected) override {
    return timed(op<"verify_upload">(), [&] { return inner_->verifyUpload(id, expected); });
  }
  Result<void> placeUpload(std::string_view id, const Digest& digest) override {
    return timed(op<"place_upload">(), [&] { return inner_->placeUpload(id, digest); });
  }
  Result<void> cancelUpload(std::string_view id) override {
    return timed(op<"cancel_upload">(), [&] { return inner_->cancelUpload(id); });
  }
  Result<std::vector<std::string>> staleUploads(int64_t before, size_t limit) override {
    return timed(op<"stale_uploads">(), [&] { return inner_->staleUploads(before, limit); });
  }
  Result<void> forEachBlob(const std::function<bool(const StoredBlob&)>& visit) override {
    return timed(op<"for_each_blob">(), [&] { return inner_->forEachBlob(visit); });
  }

 private:
  BlobStorePtr inner_;
};

}  // namespace

BlobStorePtr measured(BlobStorePtr store) {
  return std::make_unique<MeasuredBlobStore>(std::move(store));
}

}  // namespace berth::storage

// The BlobStore contract (blob_store_contract.hpp) on the filesystem driver.
#include <filesystem>

#include "blob_store_contract.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::storage {
namespace {

struct FsFactory {
  static constexpr bool kPlacesOnVerify = false;
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("berth-blobs-" + newUuid());
  BlobStorePtr make() { return *FsBlobStore::open(root); }
  ~FsFactory() { std::filesystem::remove_all(root); }
};

using Drivers = ::testing::Types<FsFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Fs, BlobStoreConformance, Drivers);

}  // namespace
}  // namespace berth::storage

#pragma once
// Where a registry's blobs live, as a URL:
//   file:///var/lib/berth/registries/NAME      (or a plain path)
//   s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=true|false&redirect=true|false
//   azblob://ACCOUNT/CONTAINER[/PREFIX]?endpoint=URL&redirect=true|false
// Credentials never appear in the URL: they come from the environment or the configuration.
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace berth::storage {

struct StoreUrl {
  enum class Kind { File, S3, Azure };
  Kind kind = Kind::File;
  std::filesystem::path path;  // File
  std::string bucket;          // S3 bucket, Azure container
  std::string account;         // Azure
  std::string prefix;          // key prefix, no leading or trailing '/'; may be empty
  // scheme://host[:port][/path], no trailing '/': S3's service endpoint, Azure's blob endpoint
  // (for Azurite it ends with the account's name).
  std::string endpoint;
  std::string region = "us-east-1";
  bool pathStyle =
      false;              // S3: https://endpoint/bucket/key rather than https://bucket.endpoint/key
  bool redirect = false;  // blob GETs answer 307 to a presigned or SAS URL

  // The URL in its canonical form (what `berth registry show` prints).
  std::string str() const;
  // The same store one level down: a registry's place under a server-wide store.
  StoreUrl child(std::string_view name) const;
};

// Whether two stores share objects: the same place, or one inside the other.
bool overlaps(const StoreUrl& a, const StoreUrl& b);

// Parses and checks a store URL; the error names what is wrong in one line.
Result<StoreUrl> parseStoreUrl(std::string_view text);

}  // namespace berth::storage

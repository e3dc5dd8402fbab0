#pragma once
// A BlobStore that times every call into the store it wraps, and counts its failures, as
// berth_blob_store_operation_duration_seconds{op} and berth_blob_store_operation_errors_total{op}:
// every driver is measured the same way.
#include "storage/blob_store.hpp"

namespace berth::storage {

BlobStorePtr measured(BlobStorePtr store);

}  // namespace berth::storage

#pragma once
// A typed array in a device's memory (RAII over Ops::alloc/release), with the
// bytes accounted under one memory category.
#include <cstddef>
#include <vector>

#include "engines/model/memory_account.h"
#include "engines/model/ops.h"

namespace qbench {

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(Ops* ops, size_t n, MemoryAccount* acc, MemCategory cat) : ops_(ops), n_(n), acc_(acc), cat_(cat) {
    if (n_) p_ = static_cast<T*>(ops_->alloc(n_ * sizeof(T)));
    if (acc_) acc_->add(cat_, int64_t(n_ * sizeof(T)));
  }
  // Device copy of host data.
  DeviceArray(Ops* ops, const std::vector<T>& host, MemoryAccount* acc, MemCategory cat)
      : DeviceArray(ops, host.size(), acc, cat) {
    if (n_) ops_->upload(p_, host.data(), n_ * sizeof(T));
  }
  ~DeviceArray() { reset(); }
  DeviceArray(DeviceArray&& o) noexcept { *this = std::move(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_; p_ = o.p_; n_ = o.n_; acc_ = o.acc_; cat_ = o.cat_;
      o.p_ = nullptr; o.n_ = 0; o.acc_ = nullptr;
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

 private:
  void reset() {
    if (p_) ops_->release(p_);
    if (acc_) acc_->sub(cat_, int64_t(n_ * sizeof(T)));
    p_ = nullptr;
    n_ = 0;
    acc_ = nullptr;
  }
  Ops* ops_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
  MemoryAccount* acc_ = nullptr;
  MemCategory cat_ = MemCategory::Activations;
};

}  // namespace qbench

#include "engines/formats/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "engines/core/error.h"

namespace qbench {

namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::U8: put<uint8_t>(out, uint8_t(v.u)); break;
    case GgufType::I8: put<int8_t>(out, int8_t(v.i)); break;
    case GgufType::U16: put<uint16_t>(out, uint16_t(v.u)); break;
    case GgufType::I16: put<int16_t>(out, int16_t(v.i)); break;
    case GgufType::U32: put<uint32_t>(out, uint32_t(v.u)); break;
    case GgufType::I32: put<int32_t>(out, int32_t(v.i)); break;
    case GgufType::U64: put<uint64_t>(out, v.u); break;
    case GgufType::I64: put<int64_t>(out, v.i); break;
    case GgufType::F32: put<float>(out, float(v.f)); break;
    case GgufType::F64: put<double>(out, v.f); break;
    case GgufType::BOOL: put<uint8_t>(out, v.u ? 1 : 0); break;
    case GgufType::STRING: put_str(out, v.s); break;
    case GgufType::ARRAY:
      put<uint32_t>(out, uint32_t(v.elem));
      put<uint64_t>(out, v.arr.size());
      for (auto& e : v.arr) put_value(out, e);
      break;
  }
}

GgufValue scalar(GgufType t) {
  GgufValue v;
  v.type = t;
  return v;
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue v) {
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}
void GgufWriter::set_u32(const std::string& k, uint32_t x) { auto v = scalar(GgufType::U32); v.u = x; set(k, v); }
void GgufWriter::set_i32(const std::string& k, int32_t x) { auto v = scalar(GgufType::I32); v.i = x; set(k, v); }
void GgufWriter::set_f32(const std::string& k, float x) { auto v = scalar(GgufType::F32); v.f = x; set(k, v); }
void GgufWriter::set_bool(const std::string& k, bool x) { auto v = scalar(GgufType::BOOL); v.u = x; set(k, v); }
void GgufWriter::set_str(const std::string& k, const std::string& x) { auto v = scalar(GgufType::STRING); v.s = x; set(k, v); }
void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& xs) {
  auto v = scalar(GgufType::ARRAY);
  v.elem = GgufType::STRING;
  for (auto& x : xs) { auto e = scalar(GgufType::STRING); e.s = x; v.arr.push_back(std::move(e)); }
  set(k, std::move(v));
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& xs) {
  auto v = scalar(GgufType::ARRAY);
  v.elem = GgufType::I32;
  for (auto x : xs) { auto e = scalar(GgufType::I32); e.i = x; v.arr.push_back(e); }
  set(k, std::move(v));
}

uint64_t GgufWriter::alignment() const {
  for (auto& kv : kv_)
    if (kv.first == "general.alignment") return kv.second.u;
  return 32;
}

void GgufWriter::add_tensor(const std::string& name, quant::GgmlType type, std::vector<int64_t> dims, Fill fill) {
  if (dims.empty()) throw Error("GGUF writer: tensor '" + name + "' has no dimensions");
  int64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  const uint64_t nbytes = quant::row_bytes(type, dims[0]) * uint64_t(rows);
  const uint64_t a = alignment();
  next_offset_ = (next_offset_ + a - 1) / a * a;
  tensors_.push_back({name, type, std::move(dims), nbytes, next_offset_, std::move(fill)});
  next_offset_ += nbytes;
}

void GgufWriter::add_tensor(const std::string& name, quant::GgmlType type, std::vector<int64_t> dims, const void* data) {
  add_tensor(name, type, std::move(dims), [data](uint8_t* dst, uint64_t n) { std::memcpy(dst, data, n); });
}

uint64_t GgufWriter::data_bytes() const {
  uint64_t s = 0;
  for (auto& t : tensors_) s += t.nbytes;
  return s;
}

std::string GgufWriter::header() const {
  std::string h;
  put<uint32_t>(h, 0x46554747);
  put<uint32_t>(h, 3);
  put<uint64_t>(h, tensors_.size());
  put<uint64_t>(h, kv_.size());
  for (auto& [k, v] : kv_) {
    put_str(h, k);
    put<uint32_t>(h, uint32_t(v.type));
    put_value(h, v);
  }
  for (auto& t : tensors_) {
    put_str(h, t.name);
    put<uint32_t>(h, uint32_t(t.dims.size()));
    for (auto d : t.dims) put<uint64_t>(h, uint64_t(d));
    put<uint32_t>(h, uint32_t(t.type));
    put<uint64_t>(h, t.offset);
  }
  const uint64_t a = alignment();
  h.resize((h.size() + a - 1) / a * a, '\0');
  return h;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  const std::string h = header();
  std::vector<uint8_t> out(h.begin(), h.end());
  for (auto& t : tensors_) {
    out.resize(h.size() + t.offset, 0);
    out.resize(h.size() + t.offset + t.nbytes);
    t.fill(out.data() + h.size() + t.offset, t.nbytes);
  }
  return out;
}

uint64_t GgufWriter::write(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
  if (!f) throw Error(path + ": cannot open for writing");
  const std::string h = header();
  auto write_all = [&](const void* p, uint64_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) throw Error(path + ": write failed (disk full?)");
  };
  write_all(h.data(), h.size());
  uint64_t pos = 0;
  std::vector<uint8_t> buf;
  for (auto& t : tensors_) {
    if (t.offset > pos) {
      const std::vector<uint8_t> pad(t.offset - pos, 0);
      write_all(pad.data(), pad.size());
    }
    buf.resize(t.nbytes);
    t.fill(buf.data(), t.nbytes);
    write_all(buf.data(), t.nbytes);
    pos = t.offset + t.nbytes;
  }
  if (std::fflush(f.get()) != 0) throw Error(path + ": write failed");
  f.reset();
  std::filesystem::rename(tmp, path);
  return h.size() + pos;
}

}  // namespace qbench

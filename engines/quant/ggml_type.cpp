#include "engines/quant/ggml_type.h"

#include "engines/core/error.h"

namespace qbench::quant {

namespace {

struct Entry {
  uint32_t id;
  TypeTraits t;
};

// Ids 0..39 of ggml.h; the ones qbench does not run are listed so that an
// error can name them ("IQ2_XXS is not supported") rather than say "unknown".
constexpr Entry kTypes[] = {
    {0, {"f32", 1, 4, true}},          {1, {"f16", 1, 2, true}},
    {2, {"q4_0", 32, 18, true}},       {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},       {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},       {9, {"q8_1", 32, 36, false}},
    {10, {"q2_k", 256, 84, false}},    {11, {"q3_k", 256, 110, false}},
    {12, {"q4_k", 256, 144, true}},    {13, {"q5_k", 256, 176, true}},
    {14, {"q6_k", 256, 210, true}},    {15, {"q8_k", 256, 292, false}},
    {16, {"iq2_xxs", 256, 66, false}}, {17, {"iq2_xs", 256, 74, false}},
    {18, {"iq3_xxs", 256, 98, false}}, {19, {"iq1_s", 256, 50, false}},
    {20, {"iq4_nl", 32, 18, false}},   {21, {"iq3_s", 256, 110, false}},
    {22, {"iq2_s", 256, 82, false}},   {23, {"iq4_xs", 256, 136, false}},
    {24, {"i8", 1, 1, false}},         {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},        {27, {"i64", 1, 8, false}},
    {28, {"f64", 1, 8, false}},        {29, {"iq1_m", 256, 56, false}},
    {30, {"bf16", 1, 2, true}},        {34, {"tq1_0", 256, 54, false}},
    {35, {"tq2_0", 256, 66, false}},
};

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t id) {
  for (const Entry& e : kTypes)
    if (e.id == id) return e.t;
  return std::nullopt;
}

const TypeTraits& traits(GgmlType t) {
  for (const Entry& e : kTypes)
    if (e.id == uint32_t(t)) return e.t;
  throw Error("internal: ggml type id " + std::to_string(uint32_t(t)) + " has no traits");
}

std::string type_id_name(uint32_t id) {
  auto t = type_traits(id);
  return t ? std::string(t->name) : "type id " + std::to_string(id);
}

uint64_t row_bytes(GgmlType t, int64_t n) {
  const TypeTraits& tr = traits(t);
  if (n < 0 || n % tr.block != 0)
    throw Error(std::string("row length ") + std::to_string(n) + " is not a multiple of the " + tr.name + " block (" +
                std::to_string(tr.block) + ")");
  return uint64_t(n / tr.block) * uint64_t(tr.block_bytes);
}

}  // namespace qbench::quant

// The torch.save unpickler on pickles built byte by byte: each malformed or hostile input
// (unknown opcodes, stack and memo misuse, truncated arguments, globals outside the ones it
// knows, tensors that do not fit their storage, negative or huge sizes, nesting without end)
// is a Status saying what is wrong, never a crash; unknown globals are never called. The files
// Python's torch writes are read in torch_save_python_test.cc.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "process.h"
#include "torch_save_reader.h"

namespace landscape::engine {
namespace {

using core::StatusCode;

// A protocol-2 pickle written opcode by opcode.
class P {
 public:
  P() { b_ = {0x80, 0x02}; }
  P& op(uint8_t o) {
    b_.push_back(o);
    return *this;
  }
  P& raw(const std::string& s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  P& str(const std::string& s) {  // BINUNICODE
    op('X');
    le(s.size(), 4);
    return raw(s);
  }
  P& global(const std::string& module, const std::string& name) { return op('c').raw(module + "\n" + name + "\n"); }
  P& i64(int64_t v) {  // LONG1 of 8 bytes
    op(0x8a).op(8);
    le(static_cast<uint64_t>(v), 8);
    return *this;
  }
  P& mark() { return op('('); }
  P& tuple() { return op('t'); }
  P& stop() { return op('.'); }
  // The persistent id ('storage', torch.<type>, key, 'cpu', numel) loaded with BINPERSID.
  P& storage(const std::string& type, const std::string& key, int64_t numel) {
    return mark().str("storage").global("torch", type).str(key).str("cpu").i64(numel).tuple().op('Q');
  }
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
  P& tensor(const std::string& key, int64_t numel, int64_t offset, const std::vector<int64_t>& size,
            const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark().storage("FloatStorage", key, numel).i64(offset);
    mark();
    for (int64_t s : size) i64(s);
    tuple().mark();
    for (int64_t s : stride) i64(s);
    tuple().op(0x89).global("collections", "OrderedDict").op(')').op('R');
    return tuple().op('R');
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> b_;
};

// Storages: key "0" holds the floats 0, 1, ..., 7 (32 bytes); "short" holds 2 floats.
core::Result<std::vector<uint8_t>> Records(const std::string& name) {
  if (name == "data/short") return std::vector<uint8_t>(8, 0);
  if (name != "data/0") return core::Status(StatusCode::kDataLoss, "no record " + name);
  std::vector<uint8_t> out(32);
  for (int i = 0; i < 8; ++i) {
    const float f = static_cast<float>(i);
    std::memcpy(out.data() + 4 * i, &f, 4);
  }
  return out;
}

core::Result<PyRef> Read(const P& p, const TorchSaveLimits& limits = {}) { return Unpickle(p.bytes(), Records, limits); }

// Expects an error of `code` whose message holds `what`.
void ExpectError(const core::Result<PyRef>& r, StatusCode code, const std::string& what) {
  ASSERT_FALSE(r.ok()) << "accepted; expected: " << what;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().ToString();
}

TEST(TorchSaveReader, AWellFormedTensorPickleReadsItsStorage) {
  auto r = Read(P().tensor("0", 8, 1, {2, 3}, {3, 1}).stop());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->kind, PyValue::Kind::kTensor);
  const at::Tensor& t = (*r)->tensor;
  EXPECT_EQ(t.sizes(), at::IntArrayRef({2, 3}));
  EXPECT_EQ(t.strides(), at::IntArrayRef({3, 1}));
  EXPECT_EQ(t.storage_offset(), 1);
  // Elements 1..6 of the storage 0..7.
  EXPECT_TRUE(at::equal(t, at::arange(1, 7, at::kFloat).reshape({2, 3})));
}

TEST(TorchSaveReader, AnUnknownOpcodeIsNamedWithItsOffset) {
  ExpectError(Read(P().op(0xff).stop()), StatusCode::kDataLoss, "unsupported pickle opcode 0xff at byte 2");
  ExpectError(Read(P().op('N').op('i').stop()), StatusCode::kDataLoss, "unsupported pickle opcode 0x69 at byte 3");
}

TEST(TorchSaveReader, StackAndMemoMisuseIsCorrupt) {
  ExpectError(Read(P().stop()), StatusCode::kDataLoss, "empty stack at STOP");
  ExpectError(Read(P().op('N')), StatusCode::kDataLoss, "ends without STOP");
  ExpectError(Read(P().op('a').stop()), StatusCode::kDataLoss, "stack underflow");
  ExpectError(Read(P().op('0').stop()), StatusCode::kDataLoss, "stack underflow");
  ExpectError(Read(P().op('N').op(0x86).stop()), StatusCode::kDataLoss, "stack underflow in TUPLE");
  ExpectError(Read(P().op('N').op('t').stop()), StatusCode::kDataLoss, "no MARK");
  ExpectError(Read(P().op('N').op('l').stop()), StatusCode::kDataLoss, "no MARK");
  ExpectError(Read(P().op('N').op('h').op(7).stop()), StatusCode::kDataLoss, "GET of an unknown memo entry");
  ExpectError(Read(P().op('q').op(0).stop()), StatusCode::kDataLoss, "bad PUT");
  ExpectError(Read(P().op(0x94).stop()), StatusCode::kDataLoss, "bad MEMOIZE");
  ExpectError(Read(P().op('2').stop()), StatusCode::kDataLoss, "DUP on an empty stack");
  ExpectError(Read(P().mark().op('N').op('s').stop()), StatusCode::kDataLoss, "stack underflow");
  ExpectError(Read(P().op('N').op('N').op('s').stop()), StatusCode::kDataLoss, "SETITEM without a dict");
  ExpectError(Read(P().mark().op('u').stop()), StatusCode::kDataLoss, "SETITEMS without a dict");
  ExpectError(Read(P().mark().op('e').stop()), StatusCode::kDataLoss, "APPENDS without a list");
  // Memo caps.
  TorchSaveLimits one;
  one.max_memo = 1;
  ExpectError(Read(P().op('N').op('q').op(0).op('N').op('q').op(1).stop(), one), StatusCode::kResourceExhausted,
              "max_memo");
  // Memo round trip: PUT, POP, GET gives the value back.
  auto r = Read(P().op('K').op(42).op('q').op(3).op('0').op('h').op(3).stop());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->i, 42);
}

TEST(TorchSaveReader, TruncatedArgumentsAreCorrupt) {
  ExpectError(Read(P().op('K')), StatusCode::kDataLoss, "truncated int");
  ExpectError(Read(P().op('J').raw("ab")), StatusCode::kDataLoss, "truncated int");
  ExpectError(Read(P().op(0x8a)), StatusCode::kDataLoss, "truncated long");
  ExpectError(Read(P().op(0x8a).op(9).raw("123456789").stop()), StatusCode::kDataLoss, "unsupported long of 9 bytes");
  ExpectError(Read(P().op(0x8b).raw(std::string("\xff\xff\xff\xff", 4))), StatusCode::kDataLoss,
              "unsupported long of 4294967295 bytes");
  ExpectError(Read(P().op('G').raw("1234")), StatusCode::kDataLoss, "truncated float");
  ExpectError(Read(P().op('X').raw(std::string("\x10\x00\x00\x00" "abc", 7))), StatusCode::kDataLoss,
              "truncated string");
  // A BINBYTES8 declaring 2^64 - 1 bytes: no overflow, no allocation.
  ExpectError(Read(P().op(0x8e).raw(std::string(8, '\xff'))), StatusCode::kDataLoss, "truncated string");
  ExpectError(Read(P().op(0x95).raw("1234")), StatusCode::kDataLoss, "truncated FRAME");
  ExpectError(Read(P().raw("cos\nsys")), StatusCode::kDataLoss, "truncated GLOBAL");
}

TEST(TorchSaveReader, GlobalsOutsideTheKnownOnesAreNeverCalled) {
  // REDUCE of os.system, builtins.eval, subprocess.call (GLOBAL and STACK_GLOBAL) on a command that
  // would create a file: each call becomes an opaque value naming the callable, and nothing runs.
  const testing::ScopedTempDir tmp("torch-save-reader");
  const std::string marker = tmp.path() + "/ran";
  const std::string touch = "touch " + marker;
  struct Case {
    P pickle;
    std::string name;
  };
  std::vector<Case> cases;
  cases.push_back({P().global("os", "system").mark().str(touch).tuple().op('R').stop(), "os.system"});
  cases.push_back({P().global("posix", "system").mark().str(touch).tuple().op('R').stop(), "posix.system"});
  cases.push_back({P().str("builtins").str("eval").op(0x93).mark().str("__import__('os').system('" + touch + "')")
                       .tuple().op('R').stop(),
                   "builtins.eval"});
  cases.push_back({P().global("subprocess", "call").mark().mark().str("touch").str(marker).op('l').tuple().op('R')
                       .stop(),
                   "subprocess.call"});
  // As NEWOBJ, and as a state dict's value.
  cases.push_back({P().global("os", "system").op(')').op(0x81).stop(), "os.system"});
  for (auto& c : cases) {
    auto r = Read(c.pickle);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    EXPECT_EQ((*r)->kind, PyValue::Kind::kOpaque) << c.name;
    EXPECT_EQ((*r)->s, c.name);
  }
  auto dict = Read(P().op('}').str("w").global("os", "system").mark().str(touch).tuple().op('R').op('s').stop());
  ASSERT_TRUE(dict.ok()) << dict.status().ToString();
  ASSERT_NE((*dict)->Get("w"), nullptr);
  EXPECT_EQ((*dict)->Get("w")->kind, PyValue::Kind::kOpaque);
  EXPECT_FALSE(std::filesystem::exists(marker));
  // A persistent id naming a storage type outside the known ones is refused, naming it.
  ExpectError(Read(P().mark().str("storage").global("os", "system").str("0").str("cpu").i64(1).tuple().op('Q').stop()),
              StatusCode::kInvalidArgument, "unsupported storage type 'os.system'");
  ExpectError(Read(P().str("x").op('Q').stop()), StatusCode::kDataLoss, "unsupported persistent id");
  ExpectError(Read(P().global("os", "system").str("ls").op('R').stop()), StatusCode::kDataLoss,
              "REDUCE arguments are not a tuple");
}

TEST(TorchSaveReader, ATensorLargerThanItsStorageIsRefused) {
  // Storage "0" has 8 floats.
  ExpectError(Read(P().tensor("0", 8, 0, {9}, {1}).stop()), StatusCode::kDataLoss, "tensor exceeds its storage");
  ExpectError(Read(P().tensor("0", 8, 0, {3, 3}, {3, 1}).stop()), StatusCode::kDataLoss, "tensor exceeds its storage");
  ExpectError(Read(P().tensor("0", 8, 6, {3}, {1}).stop()), StatusCode::kDataLoss, "tensor exceeds its storage");
  ExpectError(Read(P().tensor("0", 8, 0, {2, 2}, {7, 1}).stop()), StatusCode::kDataLoss,
              "tensor exceeds its storage");
  // The last element exactly: accepted; an empty view anywhere: accepted.
  auto last = Read(P().tensor("0", 8, 0, {2, 2}, {6, 1}).stop());
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_TRUE(at::equal((*last)->tensor, at::tensor({0.f, 1.f, 6.f, 7.f}).reshape({2, 2})));
  auto empty = Read(P().tensor("0", 8, 8, {0, 5}, {5, 1}).stop());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)->tensor.numel(), 0);
  // The storage's record holds fewer bytes than its id declares.
  ExpectError(Read(P().tensor("short", 8, 0, {8}, {1}).stop()), StatusCode::kDataLoss, "storage short is truncated");
  ExpectError(Read(P().tensor("missing", 8, 0, {8}, {1}).stop()), StatusCode::kDataLoss, "no record data/missing");
}

TEST(TorchSaveReader, NegativeAndHugeSizesAreRefused) {
  ExpectError(Read(P().tensor("0", 8, 0, {-1}, {1}).stop()), StatusCode::kDataLoss, "negative size/stride");
  ExpectError(Read(P().tensor("0", 8, 0, {2}, {-1}).stop()), StatusCode::kDataLoss, "negative size/stride");
  ExpectError(Read(P().tensor("0", 8, -1, {2}, {1}).stop()), StatusCode::kDataLoss, "negative storage offset");
  ExpectError(Read(P().tensor("0", 8, 0, {2, 2}, {1}).stop()), StatusCode::kDataLoss, "bad size/stride");
  // A view of 2^62 elements (stride 0: in bounds) and one whose element count overflows 64 bits.
  ExpectError(Read(P().tensor("0", 8, 0, {int64_t{1} << 62}, {0}).stop()), StatusCode::kResourceExhausted,
              "max_storage_bytes");
  ExpectError(Read(P().tensor("0", 8, 0, {int64_t{1} << 40, int64_t{1} << 40}, {0, 0}).stop()),
              StatusCode::kResourceExhausted, "max_storage_bytes");
  // Strides whose span overflows.
  ExpectError(Read(P().tensor("0", 8, 0, {3}, {INT64_MAX}).stop()), StatusCode::kDataLoss,
              "tensor exceeds its storage");
  // Storages declaring a negative or a huge element count.
  ExpectError(Read(P().storage("FloatStorage", "0", -5).stop()), StatusCode::kDataLoss, "bad storage id");
  ExpectError(Read(P().storage("DoubleStorage", "0", INT64_MAX).stop()), StatusCode::kResourceExhausted,
              "max_storage_bytes");
  // A legacy storage view (the id's sixth item) is refused by name.
  ExpectError(Read(P().mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").i64(8)
                       .mark().str("v").i64(0).i64(4).tuple().tuple().op('Q').stop()),
              StatusCode::kInvalidArgument, "storage views of the legacy format are not supported");
}

TEST(TorchSaveReader, NestingWithoutEndIsRefused) {
  // 100,000 tuples, each inside the next (TUPLE1): far deeper than max_depth.
  P tuples;
  tuples.op(')');
  for (int i = 0; i < 100000; ++i) tuples.op(0x85);
  ExpectError(Read(tuples.stop()), StatusCode::kResourceExhausted, "max_depth");
  // Dicts: {"k": {"k": ...}} 300 deep, against a cap of 200; 150 deep passes.
  auto dicts = [](int depth) {
    P p;
    for (int i = 0; i < depth; ++i) p.op('}').str("k");
    p.op('}');
    for (int i = 0; i < depth; ++i) p.op('s');
    return p.stop();
  };
  ExpectError(Read(dicts(300)), StatusCode::kResourceExhausted, "max_depth");
  auto ok = Read(dicts(150));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  int depth = 0;
  for (PyRef v = *ok; v && v->kind == PyValue::Kind::kDict; v = v->Get("k")) ++depth;
  EXPECT_EQ(depth, 151);
  // _rebuild_from_type_v2 calls nested 300 deep in one REDUCE.
  P calls;
  const std::string g = "ctorch._tensor\n_rebuild_from_type_v2\n";
  calls.raw(g);
  for (int i = 0; i < 300; ++i) calls.mark().raw(g).op('N');
  calls.op(')');
  for (int i = 0; i < 300; ++i) calls.tuple();
  ExpectError(Read(calls.op('R').stop()), StatusCode::kResourceExhausted, "calls nested too deep");
  // A dict holding itself.
  ExpectError(Read(P().op('}').op('q').op(0).str("self").op('h').op(0).op('s').stop()), StatusCode::kDataLoss,
              "holds itself");
}

TEST(TorchSaveReader, ConstantsReadAsPythonWritesThem) {
  // BININT1/2/4, LONG1 (short, sign-extended), NEWTRUE/FALSE, BINFLOAT (big-endian), the string opcodes.
  P p;
  p.mark().op('K').op(200).op('M').raw("\x34\x12").op('J').raw(std::string("\xfe\xff\xff\xff", 4));
  p.op(0x8a).op(2).raw(std::string("\x00\x80", 2)).op(0x8a).op(0).op(0x88).op(0x89);
  p.op('G').raw(std::string("\xc0\x09\x21\xfb\x54\x44\x2d\x18", 8));
  p.op(0x8c).op(2).raw("hi").op('U').op(1).raw("u").op('C').op(2).raw(std::string("\x00\xff", 2));
  p.op('N').op('l').stop();
  auto r = Read(p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& it = (*r)->items;
  ASSERT_EQ(it.size(), 12u);
  EXPECT_EQ(it[0]->i, 200);
  EXPECT_EQ(it[1]->i, 0x1234);
  EXPECT_EQ(it[2]->i, -2);
  EXPECT_EQ(it[3]->i, -32768);
  EXPECT_EQ(it[4]->i, 0);
  EXPECT_TRUE(it[5]->b);
  EXPECT_FALSE(it[6]->b);
  EXPECT_EQ(it[7]->f, -3.141592653589793);
  EXPECT_EQ(it[8]->kind, PyValue::Kind::kString);
  EXPECT_EQ(it[8]->s, "hi");
  EXPECT_EQ(it[9]->s, "u");
  EXPECT_EQ(it[10]->kind, PyValue::Kind::kBytes);
  EXPECT_EQ(it[10]->s, std::string("\x00\xff", 2));
  EXPECT_EQ(it[11]->kind, PyValue::Kind::kNone);
}

}  // namespace
}  // namespace landscape::engine

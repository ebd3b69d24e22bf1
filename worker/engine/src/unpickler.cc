#include "unpickler.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <cstring>

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

Status TorchSaveCorrupt(const std::string& what) {
  return Status(StatusCode::kDataLoss, "corrupt torch.save data: " + what);
}

namespace {

PyRef Make(PyValue::Kind kind) {
  auto v = std::make_shared<PyValue>();
  v->kind = kind;
  return v;
}

Status Corrupt(const std::string& what) { return TorchSaveCorrupt(what); }
Status OverLimit(const std::string& limit, uint64_t value, const std::string& what) {
  return Status(StatusCode::kResourceExhausted,
                "torch.save data over the limit " + limit + " (" + std::to_string(value) + "): " + what);
}

// `numel` elements of `item` bytes, or false when the product overflows 64 bits.
bool Bytes(int64_t numel, size_t item, uint64_t* out) {
  return numel >= 0 && !__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(item), out);
}

bool StorageDType(const std::string& global, at::ScalarType* out) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"torch.FloatStorage", at::kFloat},   {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},     {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},     {"torch.BoolStorage", at::kBool},
  };
  auto it = kTypes.find(global);
  if (it == kTypes.end()) return false;
  *out = it->second;
  return true;
}

bool IntList(const PyRef& v, std::vector<int64_t>* out) {
  if (!v || (v->kind != PyValue::Kind::kTuple && v->kind != PyValue::Kind::kList)) return false;
  out->clear();
  for (const auto& item : v->items) {
    if (!item || item->kind != PyValue::Kind::kInt) return false;
    out->push_back(item->i);
  }
  return true;
}

}  // namespace

Unpickler::~Unpickler() {
  for (const PyRef& v : all_) {
    if (keep_.count(v.get()) == 0) {
      v->items.clear();
      v->dict.clear();
    }
  }
}

Result<PyRef> Unpickler::Run() {
  while (true) {
    if (pos_ >= d_.size()) return Corrupt("ends without STOP");
    const uint8_t op = d_[pos_++];
    if (op == '.') break;
    Status s = Step(op);
    if (!s.ok()) return s;
    if (all_.size() > limits_.max_values) {
      return OverLimit("max_values", limits_.max_values, "the pickle makes too many values");
    }
  }
  if (stack_.empty()) return Corrupt("empty stack at STOP");
  if (Status s = Check(stack_.back()); !s.ok()) {
    keep_.clear();  // nothing is returned: the destructor empties every value
    return s;
  }
  return stack_.back();
}

PyRef Unpickler::Make(PyValue::Kind kind) {
  PyRef v = landscape::engine::Make(kind);
  all_.push_back(v);
  return v;
}

PyRef Unpickler::MakeString(PyValue::Kind kind, std::string s) {
  PyRef v = Make(kind);
  v->s = std::move(s);
  return v;
}

// Walks the result without recursion: no cycles, nesting within max_depth. Marks what it reaches
// as kept (the destructor empties the rest).
Status Unpickler::Check(const PyRef& root) {
  std::unordered_set<const PyValue*> on_path;
  struct Frame {
    const PyValue* v;
    size_t next;  // the next child: items first, then dict keys and values
  };
  std::vector<Frame> path{{root.get(), 0}};
  on_path.insert(root.get());
  keep_.insert(root.get());
  while (!path.empty()) {
    Frame& f = path.back();
    const size_t n_items = f.v->items.size();
    const size_t n = n_items + 2 * f.v->dict.size();
    if (f.next >= n) {
      on_path.erase(f.v);
      path.pop_back();
      continue;
    }
    const size_t k = f.next++;
    const PyValue* c = k < n_items ? f.v->items[k].get()
                                   : ((k - n_items) % 2 == 0 ? f.v->dict[(k - n_items) / 2].first.get()
                                                             : f.v->dict[(k - n_items) / 2].second.get());
    if (!c) continue;
    if (on_path.count(c)) return Corrupt("a container holds itself (recursive data is not supported)");
    if (keep_.count(c)) continue;  // shared and already checked below another parent
    if (path.size() >= static_cast<size_t>(limits_.max_depth)) {
      return OverLimit("max_depth", static_cast<uint64_t>(limits_.max_depth), "containers nested too deep");
    }
    keep_.insert(c);
    on_path.insert(c);
    path.push_back({c, 0});
  }
  return Status::Ok();
}

uint64_t Unpickler::ReadLE(size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(d_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

std::string Unpickler::ReadBytes(size_t n) {
  std::string s(reinterpret_cast<const char*>(d_.data() + pos_), n);
  pos_ += n;
  return s;
}

bool Unpickler::ReadLine(std::string* out) {
  size_t end = pos_;
  while (end < d_.size() && d_[end] != '\n') ++end;
  if (end >= d_.size()) return false;
  *out = std::string(reinterpret_cast<const char*>(d_.data() + pos_), end - pos_);
  pos_ = end + 1;
  return true;
}

Result<PyRef> Unpickler::Pop() {
  if (stack_.empty()) return Corrupt("stack underflow");
  PyRef v = stack_.back();
  stack_.pop_back();
  return v;
}

Result<std::vector<PyRef>> Unpickler::PopToMark() {
  if (marks_.empty()) return Corrupt("no MARK");
  const size_t m = marks_.back();
  marks_.pop_back();
  if (m > stack_.size()) return Corrupt("bad MARK");
  std::vector<PyRef> items(stack_.begin() + static_cast<long>(m), stack_.end());
  stack_.resize(m);
  return items;
}

Status Unpickler::PushTuple(std::vector<PyRef> items) {
  auto t = Make(PyValue::Kind::kTuple);
  t->items = std::move(items);
  stack_.push_back(t);
  return Status::Ok();
}

void Unpickler::SetItem(const PyRef& dict, PyRef k, PyRef v) {
  if (!dict || dict->kind != PyValue::Kind::kDict) return;  // e.g. an opaque object: ignore
  if (k && k->kind == PyValue::Kind::kString) {
    for (auto& kv : dict->dict) {
      if (kv.first && kv.first->kind == PyValue::Kind::kString && kv.first->s == k->s) {
        kv.second = std::move(v);
        return;
      }
    }
  }
  dict->dict.emplace_back(std::move(k), std::move(v));
}

Result<PyRef> Unpickler::PersistentLoad(const PyRef& pid) {
  // ('storage', <storage type global>, key, location, numel)
  if (!pid || pid->kind != PyValue::Kind::kTuple || pid->items.size() < 5 ||
      pid->items[0]->kind != PyValue::Kind::kString || pid->items[0]->s != "storage") {
    return Corrupt("unsupported persistent id");
  }
  const PyRef& type = pid->items[1];
  const PyRef& key = pid->items[2];
  const PyRef& numel = pid->items[4];
  at::ScalarType dtype;
  if (type->kind != PyValue::Kind::kGlobal || !StorageDType(type->s, &dtype)) {
    return Status(StatusCode::kInvalidArgument, "unsupported storage type '" + type->s + "'");
  }
  if (key->kind != PyValue::Kind::kString || numel->kind != PyValue::Kind::kInt || numel->i < 0) {
    return Corrupt("bad storage id");
  }
  if (pid->items.size() >= 6 && pid->items[5] && pid->items[5]->kind != PyValue::Kind::kNone) {
    return Status(StatusCode::kInvalidArgument, "storage views of the legacy format are not supported");
  }
  auto cached = storages_.find(key->s);
  if (cached != storages_.end()) return cached->second;
  // The declared size is checked against the cap and against the bytes there are before allocating.
  uint64_t need = 0;
  if (!Bytes(numel->i, c10::elementSize(dtype), &need) || need > limits_.max_storage_bytes) {
    return OverLimit("max_storage_bytes", limits_.max_storage_bytes,
                     "storage " + key->s + " declares " + std::to_string(numel->i) + " elements");
  }
  if (!records_) {  // legacy: the bytes come after the pickles, within the file
    if (need > d_.size()) return Corrupt("storage " + key->s + " declares more bytes than the file has");
    auto v = Make(PyValue::Kind::kTensor);
    v->tensor = at::zeros({numel->i}, at::TensorOptions().dtype(dtype));
    storages_[key->s] = v;
    return v;
  }
  auto bytes = records_("data/" + key->s);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() < need) return Corrupt("storage " + key->s + " is truncated");
  at::Tensor t = at::empty({numel->i}, at::TensorOptions().dtype(dtype));
  if (need > 0) std::memcpy(t.data_ptr(), bytes->data(), need);
  auto v = Make(PyValue::Kind::kTensor);
  v->tensor = t;
  storages_[key->s] = v;
  return v;
}

Result<PyRef> Unpickler::Call(const PyRef& fn, const PyRef& args, int depth) {
  if (!fn || fn->kind != PyValue::Kind::kGlobal) return MakeString(PyValue::Kind::kOpaque, "call");
  if (depth > limits_.max_depth) {
    return OverLimit("max_depth", static_cast<uint64_t>(limits_.max_depth), "calls nested too deep");
  }
  const std::string& name = fn->s;
  const auto& a = args->items;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    auto d = Make(PyValue::Kind::kDict);
    if (!a.empty() && a[0] && (a[0]->kind == PyValue::Kind::kList || a[0]->kind == PyValue::Kind::kTuple)) {
      for (const auto& pair : a[0]->items) {
        if (pair && pair->items.size() == 2) SetItem(d, pair->items[0], pair->items[1]);
      }
    }
    return d;
  }
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    if (a.size() < 4 || !a[0] || a[0]->kind != PyValue::Kind::kTensor || a[1]->kind != PyValue::Kind::kInt) {
      return Corrupt("bad arguments to " + name);
    }
    std::vector<int64_t> size, stride;
    if (!IntList(a[2], &size) || !IntList(a[3], &stride) || size.size() != stride.size()) {
      return Corrupt("bad size/stride in " + name);
    }
    // Bounds check before as_strided: the largest element index must be inside the storage, and
    // the view (stride 0 repeats elements) no larger than a storage may be.
    if (a[1]->i < 0) return Corrupt("negative storage offset");
    int64_t last = a[1]->i;
    int64_t numel = 1;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) return Corrupt("negative size/stride");
      int64_t span = 0;
      if (__builtin_mul_overflow(size[i], numel, &numel)) numel = INT64_MAX;
      if (size[i] == 0) last = -1;
      if (last >= 0 && (__builtin_mul_overflow(size[i] - 1, stride[i], &span) ||
                        __builtin_add_overflow(last, span, &last))) {
        return Corrupt("tensor exceeds its storage");
      }
    }
    if (last >= a[0]->tensor.numel()) return Corrupt("tensor exceeds its storage");
    uint64_t view_bytes = 0;
    if (!Bytes(numel, a[0]->tensor.element_size(), &view_bytes) || view_bytes > limits_.max_storage_bytes) {
      return OverLimit("max_storage_bytes", limits_.max_storage_bytes, "a tensor view of " + std::to_string(numel) +
                                                                            " elements");
    }
    auto v = Make(PyValue::Kind::kTensor);
    v->tensor = a[0]->tensor.as_strided(size, stride, a[1]->i);
    return v;
  }
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || !a[0] || a[0]->kind != PyValue::Kind::kTensor) return Corrupt("bad parameter");
    return a[0];
  }
  if (name == "torch.jit._pickle.restore_type_tag") {  // LibTorch's pickle_save: (value, "Dict[str, Tensor]")
    if (a.empty() || !a[0]) return Corrupt("bad " + name);
    return a[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2" || name == "torch._tensor._rebuild_from_type") {
    if (a.size() < 3 || !a[2]) return Corrupt("bad " + name);
    return Call(a[0], a[2], depth + 1);
  }
  return MakeString(PyValue::Kind::kOpaque, name);
}

Status Unpickler::Step(uint8_t op) {
  switch (op) {
    case 0x80:  // PROTO
    case 0x95:  // FRAME
    case '(':   // MARK
    case '0':   // POP
    case '1':   // POP_MARK
    case '2':   // DUP
      return StepFraming(op);
    case 'q':   // BINPUT
    case 'r':   // LONG_BINPUT
    case 0x94:  // MEMOIZE
    case 'h':   // BINGET
    case 'j':   // LONG_BINGET
      return StepMemo(op);
    case 'N':   // NONE
    case 0x88:  // NEWTRUE
    case 0x89:  // NEWFALSE
    case 'J':   // BININT
    case 'K':   // BININT1
    case 'M':   // BININT2
    case 0x8a:  // LONG1
    case 0x8b:  // LONG4
    case 'G':   // BINFLOAT
      return StepNumber(op);
    case 'X':   // BINUNICODE
    case 0x8c:  // SHORT_BINUNICODE
    case 0x8d:  // BINUNICODE8
    case 'T':   // BINSTRING
    case 'U':   // SHORT_BINSTRING
    case 'B':   // BINBYTES
    case 'C':   // SHORT_BINBYTES
    case 0x8e:  // BINBYTES8
      return StepString(op);
    case '}':   // EMPTY_DICT
    case ']':   // EMPTY_LIST
    case ')':   // EMPTY_TUPLE
    case 't':   // TUPLE
    case 0x85:  // TUPLE1
    case 0x86:  // TUPLE2
    case 0x87:  // TUPLE3
    case 'l':   // LIST
    case 'd':   // DICT
    case 's':   // SETITEM
    case 'u':   // SETITEMS
    case 'a':   // APPEND
    case 'e':   // APPENDS
      return StepContainer(op);
    case 'c':   // GLOBAL
    case 0x93:  // STACK_GLOBAL
    case 'R':   // REDUCE
    case 0x81:  // NEWOBJ
    case 'Q':   // BINPERSID
    case 'b':   // BUILD
      return StepObject(op);
    default:
      return Unsupported(op);
  }
}

Status Unpickler::Unsupported(uint8_t op) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "unsupported pickle opcode 0x%02x at byte %zu", op, pos_ - 1);
  return Corrupt(buf);
}

Status Unpickler::StepFraming(uint8_t op) {
  switch (op) {
    case 0x80:  // PROTO
      if (!Need(1)) return Corrupt("truncated PROTO");
      ++pos_;
      return Status::Ok();
    case 0x95:  // FRAME
      if (!Need(8)) return Corrupt("truncated FRAME");
      pos_ += 8;
      return Status::Ok();
    case '(':
      marks_.push_back(stack_.size());
      return Status::Ok();
    case '0':
      return Pop().status();
    case '1':
      return PopToMark().status();
    case '2':
      if (stack_.empty()) return Corrupt("DUP on an empty stack");
      stack_.push_back(stack_.back());
      return Status::Ok();
    default:
      return Unsupported(op);
  }
}

Status Unpickler::StepMemo(uint8_t op) {
  switch (op) {
    case 'q':
    case 'r': {
      const size_t n = op == 'q' ? 1 : 4;
      if (!Need(n) || stack_.empty()) return Corrupt("bad PUT");
      if (memo_.size() >= limits_.max_memo) return OverLimit("max_memo", limits_.max_memo, "memo too large");
      memo_[static_cast<uint32_t>(ReadLE(n))] = stack_.back();
      return Status::Ok();
    }
    case 0x94:
      if (stack_.empty()) return Corrupt("bad MEMOIZE");
      if (memo_.size() >= limits_.max_memo) return OverLimit("max_memo", limits_.max_memo, "memo too large");
      memo_[static_cast<uint32_t>(memo_.size())] = stack_.back();
      return Status::Ok();
    case 'h':
    case 'j': {
      const size_t n = op == 'h' ? 1 : 4;
      if (!Need(n)) return Corrupt("bad GET");
      auto it = memo_.find(static_cast<uint32_t>(ReadLE(n)));
      if (it == memo_.end()) return Corrupt("GET of an unknown memo entry");
      stack_.push_back(it->second);
      return Status::Ok();
    }
    default:
      return Unsupported(op);
  }
}

Status Unpickler::StepNumber(uint8_t op) {
  switch (op) {
    case 'N':
      stack_.push_back(Make(PyValue::Kind::kNone));
      return Status::Ok();
    case 0x88:
    case 0x89: {
      auto v = Make(PyValue::Kind::kBool);
      v->b = op == 0x88;
      stack_.push_back(v);
      return Status::Ok();
    }
    case 'J':
    case 'K':
    case 'M': {
      const size_t n = op == 'J' ? 4 : (op == 'K' ? 1 : 2);
      if (!Need(n)) return Corrupt("truncated int");
      uint64_t raw = ReadLE(n);
      auto v = Make(PyValue::Kind::kInt);
      v->i = op == 'J' ? static_cast<int32_t>(raw) : static_cast<int64_t>(raw);
      stack_.push_back(v);
      return Status::Ok();
    }
    case 0x8a:    // LONG1
    case 0x8b: {  // LONG4
      const size_t len_bytes = op == 0x8a ? 1 : 4;
      if (!Need(len_bytes)) return Corrupt("truncated long");
      const size_t n = ReadLE(len_bytes);
      if (!Need(n) || n > 8) return Corrupt("unsupported long of " + std::to_string(n) + " bytes");
      uint64_t raw = n ? ReadLE(n) : 0;
      if (n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1) raw |= ~0ULL << (8 * n);  // sign-extend
      auto v = Make(PyValue::Kind::kInt);
      v->i = static_cast<int64_t>(raw);
      stack_.push_back(v);
      return Status::Ok();
    }
    case 'G': {
      if (!Need(8)) return Corrupt("truncated float");
      uint64_t raw = 0;
      for (int i = 0; i < 8; ++i) raw = (raw << 8) | d_[pos_ + static_cast<size_t>(i)];
      pos_ += 8;
      auto v = Make(PyValue::Kind::kFloat);
      std::memcpy(&v->f, &raw, 8);
      stack_.push_back(v);
      return Status::Ok();
    }
    default:
      return Unsupported(op);
  }
}

Status Unpickler::StepString(uint8_t op) {
  const bool text = op == 'X' || op == 0x8c || op == 0x8d || op == 'T' || op == 'U';
  const size_t len_bytes = (op == 0x8c || op == 'U' || op == 'C') ? 1 : ((op == 0x8d || op == 0x8e) ? 8 : 4);
  if (!Need(len_bytes)) return Corrupt("truncated string");
  const size_t n = ReadLE(len_bytes);
  if (!Need(n)) return Corrupt("truncated string");
  stack_.push_back(MakeString(text ? PyValue::Kind::kString : PyValue::Kind::kBytes, ReadBytes(n)));
  return Status::Ok();
}

Status Unpickler::StepContainer(uint8_t op) {
  switch (op) {
    case '}':
      stack_.push_back(Make(PyValue::Kind::kDict));
      return Status::Ok();
    case ']':
      stack_.push_back(Make(PyValue::Kind::kList));
      return Status::Ok();
    case ')':
      return PushTuple({});
    case 't': {
      auto items = PopToMark();
      if (!items.ok()) return items.status();
      return PushTuple(std::move(*items));
    }
    case 0x85:
    case 0x86:
    case 0x87: {
      const size_t n = op - 0x84;
      if (stack_.size() < n) return Corrupt("stack underflow in TUPLE");
      std::vector<PyRef> items(stack_.end() - static_cast<long>(n), stack_.end());
      stack_.resize(stack_.size() - n);
      return PushTuple(std::move(items));
    }
    case 'l':
    case 'd': {
      auto items = PopToMark();
      if (!items.ok()) return items.status();
      if (op == 'l') {
        auto l = Make(PyValue::Kind::kList);
        l->items = std::move(*items);
        stack_.push_back(l);
      } else {
        auto d = Make(PyValue::Kind::kDict);
        for (size_t i = 0; i + 1 < items->size(); i += 2) SetItem(d, (*items)[i], (*items)[i + 1]);
        stack_.push_back(d);
      }
      return Status::Ok();
    }
    case 's': {
      auto v = Pop();
      if (!v.ok()) return v.status();
      auto k = Pop();
      if (!k.ok()) return k.status();
      if (stack_.empty()) return Corrupt("SETITEM without a dict");
      SetItem(stack_.back(), *k, *v);
      return Status::Ok();
    }
    case 'u': {
      auto items = PopToMark();
      if (!items.ok()) return items.status();
      if (stack_.empty()) return Corrupt("SETITEMS without a dict");
      for (size_t i = 0; i + 1 < items->size(); i += 2) SetItem(stack_.back(), (*items)[i], (*items)[i + 1]);
      return Status::Ok();
    }
    case 'a': {
      auto v = Pop();
      if (!v.ok()) return v.status();
      if (stack_.empty()) return Corrupt("APPEND without a list");
      if (stack_.back()->kind == PyValue::Kind::kList) stack_.back()->items.push_back(*v);
      return Status::Ok();
    }
    case 'e': {
      auto items = PopToMark();
      if (!items.ok()) return items.status();
      if (stack_.empty()) return Corrupt("APPENDS without a list");
      if (stack_.back()->kind == PyValue::Kind::kList) {
        for (auto& it : *items) stack_.back()->items.push_back(it);
      }
      return Status::Ok();
    }
    default:
      return Unsupported(op);
  }
}

Status Unpickler::StepObject(uint8_t op) {
  switch (op) {
    case 'c': {
      std::string module, name;
      if (!ReadLine(&module) || !ReadLine(&name)) return Corrupt("truncated GLOBAL");
      stack_.push_back(MakeString(PyValue::Kind::kGlobal, module + "." + name));
      return Status::Ok();
    }
    case 0x93: {
      auto name = Pop();
      if (!name.ok()) return name.status();
      auto module = Pop();
      if (!module.ok()) return module.status();
      stack_.push_back(MakeString(PyValue::Kind::kGlobal, (*module)->s + "." + (*name)->s));
      return Status::Ok();
    }
    case 'R': {
      auto args = Pop();
      if (!args.ok()) return args.status();
      auto fn = Pop();
      if (!fn.ok()) return fn.status();
      if ((*args)->kind != PyValue::Kind::kTuple) return Corrupt("REDUCE arguments are not a tuple");
      auto r = Call(*fn, *args);
      if (!r.ok()) return r.status();
      stack_.push_back(*r);
      return Status::Ok();
    }
    case 0x81: {  // NEWOBJ cls args
      auto args = Pop();
      if (!args.ok()) return args.status();
      auto cls = Pop();
      if (!cls.ok()) return cls.status();
      if ((*cls)->kind == PyValue::Kind::kGlobal && (*cls)->s == "collections.OrderedDict") {
        stack_.push_back(Make(PyValue::Kind::kDict));
      } else {
        stack_.push_back(MakeString(PyValue::Kind::kOpaque, (*cls)->s));
      }
      return Status::Ok();
    }
    case 'Q': {
      auto pid = Pop();
      if (!pid.ok()) return pid.status();
      auto storage = PersistentLoad(*pid);
      if (!storage.ok()) return storage.status();
      stack_.push_back(*storage);
      return Status::Ok();
    }
    case 'b': {  // BUILD: attributes of an object (e.g. OrderedDict._metadata): ignored
      auto state = Pop();
      return state.ok() ? Status::Ok() : state.status();
    }
    default:
      return Unsupported(op);
  }
}

}  // namespace landscape::engine

//===- FrozenNetworks.cpp - A frozen network's use against its run --------===//
//
// See FrozenNetworks.h.
//
//===----------------------------------------------------------------------===//
#include "FrozenNetworks.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <string>

using namespace mlir;

LogicalResult flowc::checkFrozenNetwork(const ast::ModelDecl &m, ArrayRef<StringRef> roles,
                                      ArrayRef<int64_t> dims, Location at) {
  SmallString<256> file(llvm::sys::path::parent_path(m.path));
  llvm::sys::path::append(file, "networks.json");
  auto buffer = llvm::MemoryBuffer::getFile(file);
  if (!buffer)
    return success();
  auto fail = [&](const Twine &why) {
    return emitError(at) << "model '" << m.name << "': " << why;
  };
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    std::string why = llvm::toString(json.takeError());
    return fail("cannot read " + file + ": " + why);
  }
  const llvm::json::Array *networks = json->getAsArray();
  if (!networks)
    return fail(file + " is not a list of networks");
  const llvm::json::Object *found = nullptr;
  std::string names;
  for (const llvm::json::Value &n : *networks) {
    const llvm::json::Object *o = n.getAsObject();
    std::optional<StringRef> name = o ? o->getString("name") : std::nullopt;
    if (!name)
      continue;
    names += (names.empty() ? "'" : ", '") + name->str() + "'";
    if (m.checkpointModel.empty() ? networks->size() == 1 : *name == m.checkpointModel)
      found = o;
  }
  if (!found)
    return m.checkpointModel.empty()
               ? fail("the checkpoint has " + Twine(networks->size()) +
                      " networks (" + names + "): name one with checkpoint(\"...\", model: " +
                      "\"NAME\")")
               : fail("the checkpoint has no network '" + m.checkpointModel + "' (it has " +
                      names + ")");
  // Roles as the runtime numbers them: 0 tensor, 1 time, 2 label.
  SmallVector<int64_t> used;
  for (StringRef r : roles)
    used.push_back(r == "time" ? 1 : r == "label" ? 2 : 0);
  auto ints = [&](StringRef key) {
    SmallVector<int64_t> v;
    if (const llvm::json::Array *a = found->getArray(key))
      for (const llvm::json::Value &e : *a)
        v.push_back(e.getAsInteger().value_or(-1));
    return v;
  };
  SmallVector<int64_t> storedRoles = ints("roles"), storedDims = ints("dims");
  int64_t storedOut = found->getInteger("out_dim").value_or(-1);
  auto text = [](ArrayRef<int64_t> r, ArrayRef<int64_t> d, int64_t out) {
    std::string s = "(";
    for (size_t i = 0; i < r.size(); ++i)
      s += (i ? ", " : "") + (r[i] == 1   ? std::string("time")
                              : r[i] == 2 ? std::string("label")
                                          : "tensor " + std::to_string(i < d.size() ? d[i] : 0));
    return s + ") -> " + std::to_string(out);
  };
  std::string want = text(used, dims, m.outputDim),
              have = text(storedRoles, storedDims, storedOut);
  if (want != have)
    return fail("the spec applies it as " + want + ", but network '" +
                *found->getString("name") + "' of the checkpoint is " + have);
  return success();
}

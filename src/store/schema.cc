#include "imgsearch/schema.h"

#include <cctype>
#include <set>

#include "store/schema_json.h"

namespace imgsearch {
namespace {

struct TypeName {
  const char* name;
  DataType type;
};
constexpr TypeName kTypeNames[] = {{"Bool", DataType::kBool},
                                   {"Int64", DataType::kInt64},
                                   {"Double", DataType::kDouble},
                                   {"VarChar", DataType::kVarChar},
                                   {"JSON", DataType::kJson},
                                   {"Array", DataType::kArray},
                                   {"FloatVector", DataType::kFloatVector},
                                   {"BinaryVector", DataType::kBinaryVector}};

bool ValidName(const std::string& name) {
  // A leading '$' marks a field that a front end manages itself (Milvus's "$meta").
  const size_t start = !name.empty() && name[0] == '$' ? 1 : 0;
  if (name.size() <= start || name.size() > 255 ||
      std::isdigit(static_cast<unsigned char>(name[start])))
    return false;
  for (size_t i = start; i < name.size(); ++i) {
    if (!std::isalnum(static_cast<unsigned char>(name[i])) && name[i] != '_') return false;
  }
  return true;
}

Status CheckName(const std::string& name, const char* what) {
  if (ValidName(name)) return Status::Ok();
  return Status::InvalidArgument(
      std::string(what) + " \"" + name +
      "\" must be 1-255 letters, digits or underscores, not starting with a digit (a leading "
      "$ marks a hidden field)");
}

}  // namespace

Result<DataType> ParseDataType(const std::string& name) {
  for (const auto& t : kTypeNames) {
    if (name == t.name) return t.type;
  }
  if (name == "Float") return DataType::kDouble;
  if (name == "String") return DataType::kVarChar;
  if (name == "Int8" || name == "Int16" || name == "Int32") return DataType::kInt64;
  return Status::InvalidArgument(
      "unsupported data type \"" + name +
      "\" (use Bool, Int64, Double, VarChar, JSON, Array, FloatVector or BinaryVector)");
}

const char* DataTypeName(DataType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return "?";
}

const FieldSchema* CollectionSchema::FindScalar(const std::string& field) const {
  for (const FieldSchema& f : scalar_fields) {
    if (f.name == field) return &f;
  }
  return nullptr;
}

const FieldSchema* CollectionSchema::DynamicField() const {
  const FieldSchema* f = FindScalar(kDynamicFieldName);
  return f != nullptr && f->type == DataType::kJson ? f : nullptr;
}

Status ValidateSchema(const CollectionSchema& s) {
  IMGSEARCH_RETURN_IF_ERROR(CheckName(s.name, "collection name"));
  IMGSEARCH_RETURN_IF_ERROR(CheckName(s.primary_field, "field name"));
  IMGSEARCH_RETURN_IF_ERROR(CheckName(s.vector_field, "field name"));
  if (s.vector_type != DataType::kFloatVector && s.vector_type != DataType::kBinaryVector) {
    return Status::InvalidArgument("the vector field must be FloatVector or BinaryVector");
  }
  if (s.dimension < 1 || s.dimension > 32768) {
    return Status::InvalidArgument("dimension must be between 1 and 32768, got " +
                                   std::to_string(s.dimension));
  }
  if (s.binary() && s.dimension % 8 != 0) {
    return Status::InvalidArgument("a binary vector's dimension must be a multiple of 8, got " +
                                   std::to_string(s.dimension));
  }
  std::set<std::string> names = {s.primary_field};
  if (!names.insert(s.vector_field).second)
    return Status::InvalidArgument("duplicate field \"" + s.vector_field + "\"");
  for (const FieldSchema& f : s.scalar_fields) {
    IMGSEARCH_RETURN_IF_ERROR(CheckName(f.name, "field name"));
    if (!names.insert(f.name).second)
      return Status::InvalidArgument("duplicate field \"" + f.name + "\"");
    if (f.type == DataType::kFloatVector || f.type == DataType::kBinaryVector) {
      return Status::InvalidArgument("a collection has one vector field; \"" + f.name +
                                     "\" is a second one");
    }
    if (f.type == DataType::kArray) {
      bool scalar = f.element_type == DataType::kBool || f.element_type == DataType::kInt64 ||
                    f.element_type == DataType::kDouble || f.element_type == DataType::kVarChar;
      if (!scalar) {
        return Status::InvalidArgument("the elements of Array \"" + f.name +
                                       "\" must be Bool, Int64, Double or VarChar");
      }
      if (f.max_capacity < 1 || f.max_capacity > 4096) {
        return Status::InvalidArgument("max_capacity of \"" + f.name +
                                       "\" must be between 1 and 4096");
      }
    }
    bool has_length = f.type == DataType::kVarChar ||
                      (f.type == DataType::kArray && f.element_type == DataType::kVarChar);
    if (has_length && (f.max_length < 1 || f.max_length > 65535)) {
      return Status::InvalidArgument("max_length of \"" + f.name +
                                     "\" must be between 1 and 65535");
    }
    if (!f.default_value.is_null()) {
      if (f.type == DataType::kJson || f.type == DataType::kArray) {
        return Status::InvalidArgument("\"" + f.name + "\" is " + DataTypeName(f.type) +
                                       ": only scalar fields take a default value");
      }
      std::string problem = store::ValueProblem(f, f.default_value);
      if (!problem.empty())
        return Status::InvalidArgument("the default value of \"" + f.name + "\" " + problem);
    }
    if (f.indexed && f.type != DataType::kInt64 && f.type != DataType::kVarChar) {
      return Status::InvalidArgument("only Int64 and VarChar fields can be indexed, not \"" +
                                     f.name + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace imgsearch

#pragma once
// Custom resources against their CRD's structural schema (openAPIV3Schema), as kube-apiserver's
// apiextensions handler treats every write (create, update, patch, status):
//
//   1. unknown fields are pruned (kept under x-kubernetes-preserve-unknown-fields, and in
//      schema-valued additionalProperties maps); metadata, apiVersion and kind are never pruned;
//   2. nulls the schema does not allow (not nullable, no default) in object fields are dropped;
//   3. schema defaults fill in missing fields (and non-nullable nulls);
//   4. the object is validated: type, nullable, x-kubernetes-int-or-string, enum, pattern,
//      format, minimum/maximum (exclusive too), minLength/maxLength, minItems/maxItems,
//      required, properties, additionalProperties, anyOf/allOf/oneOf/not, then
//      x-kubernetes-list-type set/map uniqueness.
//
// Failures are field errors in kube-openapi's and apimachinery's words; invalid_custom_resource
// turns them into the 422 Invalid Status kube-apiserver answers. docs/embedded-apiserver.md
// lists the rules.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "sim/apiserver/api_error.h"

namespace fairway::apiserver {

// One field.Error: its cause reason (FieldValueInvalid, FieldValueRequired, ...), the field path
// ("spec.levels[0].nodeLabel") and the body ("Required value", "Invalid value: ...").
struct FieldError {
  std::string reason;
  std::string field;
  std::string body;
  std::string text() const { return field + ": " + body; }
};

using SchemaPtr = std::shared_ptr<const nlohmann::json>;

// The openAPIV3Schema of the CRD's storage version; null when it declares none.
SchemaPtr crd_storage_schema(const nlohmann::json& crd);

// The fields step 1 would prune, as paths ("spec.foo", "spec.levels[0].bar"), for the
// fieldValidation query parameter: Strict refuses them, Warn names them in Warning headers.
std::vector<std::string> unknown_fields(const nlohmann::json& object, const nlohmann::json& schema);

// Steps 1-3 above, in place.
void prune_unknown_fields(nlohmann::json& object, const nlohmann::json& schema);
void apply_schema_defaults(nlohmann::json& object, const nlohmann::json& schema);

// Step 4: every field error, in kube-apiserver's order (schema errors, then list types).
std::vector<FieldError> validate_against_schema(const nlohmann::json& object,
                                                const nlohmann::json& schema);

// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <errors>` with details.causes.
ApiError invalid_custom_resource(const std::string& kind, const std::string& group,
                                 const std::string& name, const std::vector<FieldError>& errors);

// Steps 1-4 for a write of a custom resource: the object as it will be stored, or 422.
tl::expected<void, ApiError> admit_custom_resource(const std::string& kind,
                                                   const std::string& group,
                                                   const nlohmann::json& schema,
                                                   nlohmann::json& object);

}  // namespace fairway::apiserver

#pragma once
// Protobuf request bodies (Content-Type application/vnd.kubernetes.protobuf), decoded by hand
// into the JSON the store keeps. kubectl 1.32's typed commands (`create namespace|configmap|
// secret|serviceaccount|priorityclass`) send them and do not fall back to JSON on a 415, so the
// server must read them as kube-apiserver does. The body is Kubernetes' envelope: the magic
// "k8s\0", then a runtime.Unknown message {typeMeta{apiVersion, kind}, raw, contentEncoding,
// contentType} whose raw bytes are the object's message.
//
// Only the kinds typed clients send are known (Namespace, ConfigMap, Secret, ServiceAccount,
// PriorityClass, Pod with the fields of everyday pod specs, Eviction and DeleteOptions); any
// other kind, or a field this decoder does not know, is refused with a clear message rather than
// silently dropped.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace fairway::apiserver {

inline constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// Whether a Content-Type header names the Kubernetes protobuf encoding (parameters ignored).
bool is_protobuf_content_type(std::string_view content_type);

// The object in a protobuf envelope as JSON, with apiVersion and kind from the envelope. Proto
// encodes a Go struct's unset fields as zero values; like the JSON encoding's omitempty, zero
// scalars and empty messages are left out (except fields where zero means something, such as a
// PriorityClass's value or a pod's terminationGracePeriodSeconds). The error names the offset
// or the message and field number.
tl::expected<nlohmann::json, std::string> decode_protobuf_object(std::string_view body);

}  // namespace fairway::apiserver

// Protobuf request bodies: the exact bytes kubectl 1.32's typed `create` commands send (captured
// from /usr/bin/kubectl against a recording server), decoded into the JSON kube-apiserver would
// store, through the handler as kubectl posts them, and odd input refused with a clear error.

#include "sim/apiserver/protobuf.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/faults.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

// kubectl create namespace team-a
const std::string kNamespace = from_hex(
    "6b3873000a0f0a02763112094e616d657370616365121e0a160a067465616d2d6112001a0022002a00320038"
    "00420012001a020a001a002200");
// kubectl create configmap c1 -n foo --from-literal=a=b --from-literal=k2=v2
const std::string kConfigMap = from_hex(
    "6b3873000a0f0a0276311209436f6e6669674d617012290a150a02633112001a03666f6f22002a0032003800"
    "420012060a016112016212080a026b32120276321a002200");
// kubectl create secret generic s1 -n foo --from-literal=user=admin
const std::string kSecret = from_hex(
    "6b3873000a0c0a027631120653656372657412280a150a02733112001a03666f6f22002a0032003800420012"
    "0d0a0475736572120561646d696e1a001a002200");
// kubectl create serviceaccount sa1 -n foo
const std::string kServiceAccount = from_hex(
    "6b3873000a140a027631120e536572766963654163636f756e7412180a160a0373613112001a03666f6f2200"
    "2a003200380042001a002200");
// kubectl create priorityclass high --value=1000 --description="high prio"
//   --preemption-policy=Never
const std::string kPriorityClass = from_hex(
    "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312"
    "2d0a140a046869676812001a0022002a0032003800420010e8071800220968696768207072696f2a054e6576"
    "65721a002200");
// kubectl create priorityclass def --value=10 --global-default
const std::string kDefaultPriorityClass = from_hex(
    "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312"
    "310a130a0364656612001a0022002a00320038004200100a180122002a14507265656d70744c6f7765725072"
    "696f726974791a002200");

// A tiny encoder for bodies kubectl does not send (pods from a typed client, odd input).
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string bytes_field(int number, const std::string& payload) {
  return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(payload.size()) + payload;
}
std::string varint_field(int number, int64_t value) {
  return varint(static_cast<uint64_t>(number) << 3) + varint(static_cast<uint64_t>(value));
}
std::string envelope(const std::string& api_version, const std::string& kind,
                     const std::string& raw) {
  return std::string("k8s\0", 4) +
         bytes_field(1, bytes_field(1, api_version) + bytes_field(2, kind)) + bytes_field(2, raw);
}

TEST(ProtobufTest, ContentTypeIsRecognisedWithParameters) {
  EXPECT_TRUE(is_protobuf_content_type("application/vnd.kubernetes.protobuf"));
  EXPECT_TRUE(is_protobuf_content_type("application/vnd.kubernetes.protobuf; charset=x"));
  EXPECT_FALSE(is_protobuf_content_type("application/json"));
  EXPECT_FALSE(is_protobuf_content_type("application/strategic-merge-patch+json"));
}

TEST(ProtobufTest, KubectlNamespaceDecodesAsItsJson) {
  auto o = decode_protobuf_object(kNamespace);
  ASSERT_TRUE(o) << o.error();
  // Empty strings, the zero time and the empty spec/status are left out, as JSON's omitempty.
  EXPECT_EQ(*o, json::parse(R"({"apiVersion":"v1","kind":"Namespace",
                                "metadata":{"name":"team-a"}})"));
}

TEST(ProtobufTest, KubectlConfigMapSecretAndServiceAccountDecode) {
  auto cm = decode_protobuf_object(kConfigMap);
  ASSERT_TRUE(cm) << cm.error();
  EXPECT_EQ(*cm, json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
                                 "metadata":{"name":"c1","namespace":"foo"},
                                 "data":{"a":"b","k2":"v2"}})"));
  auto secret = decode_protobuf_object(kSecret);
  ASSERT_TRUE(secret) << secret.error();
  // map<string, bytes>: base64 in JSON, as kube-apiserver's JSON encoding of []byte.
  EXPECT_EQ(*secret, json::parse(R"({"apiVersion":"v1","kind":"Secret",
                                     "metadata":{"name":"s1","namespace":"foo"},
                                     "data":{"user":"YWRtaW4="}})"));
  auto sa = decode_protobuf_object(kServiceAccount);
  ASSERT_TRUE(sa) << sa.error();
  EXPECT_EQ(*sa, json::parse(R"({"apiVersion":"v1","kind":"ServiceAccount",
                                 "metadata":{"name":"sa1","namespace":"foo"}})"));
}

TEST(ProtobufTest, KubectlPriorityClassesDecode) {
  auto high = decode_protobuf_object(kPriorityClass);
  ASSERT_TRUE(high) << high.error();
  EXPECT_EQ(*high, json::parse(R"({"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass",
                                   "metadata":{"name":"high"},"value":1000,
                                   "description":"high prio","preemptionPolicy":"Never"})"));
  auto def = decode_protobuf_object(kDefaultPriorityClass);
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->at("globalDefault"), true);
  EXPECT_EQ(def->at("value"), 10);
  EXPECT_EQ(def->at("preemptionPolicy"), "PreemptLowerPriority");
}

TEST(ProtobufTest, PodWithQuantitiesNegativePriorityAndExplicitZeroes) {
  const std::string quantity = bytes_field(1, "2");
  const std::string limits =
      bytes_field(1, bytes_field(1, "nvidia.com/gpu") + bytes_field(2, quantity));
  const std::string container = bytes_field(1, "main") + bytes_field(2, "busybox") +
                                bytes_field(4, "sleep") + bytes_field(4, "60") +
                                bytes_field(8, limits) + varint_field(16, 0);
  const std::string spec = bytes_field(2, container) + varint_field(4, 0) +
                           bytes_field(19, "fairway") + varint_field(25, -5) +
                           bytes_field(7, bytes_field(1, "zone") + bytes_field(2, "a"));
  const std::string meta = bytes_field(1, "p") +
                           bytes_field(11, bytes_field(1, "app") + bytes_field(2, "train")) +
                           bytes_field(8, varint_field(1, 1'700'000'000));
  auto o =
      decode_protobuf_object(envelope("v1", "Pod", bytes_field(1, meta) + bytes_field(2, spec)));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(*o, json::parse(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p","labels":{"app":"train"},
                  "creationTimestamp":"2023-11-14T22:13:20Z"},
      "spec":{"containers":[{"name":"main","image":"busybox","args":["sleep","60"],
                             "resources":{"limits":{"nvidia.com/gpu":"2"}}}],
              "terminationGracePeriodSeconds":0,"schedulerName":"fairway","priority":-5,
              "nodeSelector":{"zone":"a"}}})"));
}

TEST(ProtobufTest, OddInputIsRefusedWithAClearError) {
  auto no_magic = decode_protobuf_object("{\"kind\":\"Namespace\"}");
  ASSERT_FALSE(no_magic);
  EXPECT_NE(no_magic.error().find("magic"), std::string::npos);
  // Every prefix of a valid body: an error or a value, never a crash or a read past the end.
  for (size_t n = 0; n < kPriorityClass.size(); ++n) {
    (void)decode_protobuf_object(std::string_view(kPriorityClass).substr(0, n));
  }
  auto truncated = decode_protobuf_object(kConfigMap.substr(0, kConfigMap.size() - 5));
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().find("truncated"), std::string::npos) << truncated.error();
  auto unknown_kind = decode_protobuf_object(envelope("apps/v1", "Deployment", ""));
  ASSERT_FALSE(unknown_kind);
  EXPECT_NE(unknown_kind.error().find("\"Deployment\""), std::string::npos);
  auto unknown_field = decode_protobuf_object(envelope("v1", "ConfigMap", varint_field(99, 1)));
  ASSERT_FALSE(unknown_field);
  EXPECT_NE(unknown_field.error().find("ConfigMap field 99"), std::string::npos)
      << unknown_field.error();
  auto bad_utf8 = decode_protobuf_object(
      envelope("v1", "Namespace", bytes_field(1, bytes_field(1, std::string("\xff\xfe", 2)))));
  ASSERT_FALSE(bad_utf8);
  EXPECT_NE(bad_utf8.error().find("UTF-8"), std::string::npos);
  auto wrong_wire = decode_protobuf_object(envelope("v1", "Namespace", varint_field(1, 3)));
  ASSERT_FALSE(wrong_wire);
  EXPECT_NE(wrong_wire.error().find("wire type"), std::string::npos);
}

// kubectl 1.32 posts these bodies and does not retry as JSON on a 415: the handler must read them.
TEST(ProtobufTest, HandlerCreatesWhatKubectlPosts) {
  Store store;
  Faults faults;
  ApiHandler handler(store, faults, {});
  const auto post = [&](const std::string& target, const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    req.target = target;
    req.body = body;
    req.content_type = std::string(kProtobufContentType);
    req.accept = "application/vnd.kubernetes.protobuf,application/json";
    return std::get<HttpResponse>(handler.handle(req));
  };
  const HttpResponse ns = post("/api/v1/namespaces?fieldManager=kubectl-create", kNamespace);
  ASSERT_EQ(ns.status, 201) << ns.body;
  EXPECT_EQ(json::parse(ns.body)["status"]["phase"], "Active");
  const HttpResponse foo = post("/api/v1/namespaces",
                                envelope("v1", "Namespace", bytes_field(1, bytes_field(1, "foo"))));
  ASSERT_EQ(foo.status, 201) << foo.body;
  const HttpResponse cm = post("/api/v1/namespaces/foo/configmaps", kConfigMap);
  ASSERT_EQ(cm.status, 201) << cm.body;
  EXPECT_EQ(json::parse(cm.body)["data"]["k2"], "v2");
  const HttpResponse pc = post("/apis/scheduling.k8s.io/v1/priorityclasses", kPriorityClass);
  ASSERT_EQ(pc.status, 201) << pc.body;
  const HttpResponse bad = post("/api/v1/namespaces/foo/configmaps", "k8s");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["reason"], "BadRequest");
}

// A typed client's delete sends DeleteOptions as protobuf, kubectl drain an Eviction: their
// preconditions and grace periods are honoured, never ignored.
TEST(ProtobufTest, DeleteOptionsAndEvictionsAreHonoured) {
  Store store;
  Faults faults;
  ApiHandler handler(store, faults, {});
  const auto send = [&](const std::string& method, const std::string& target,
                        const std::string& body, const std::string& content_type) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = content_type;
    return std::get<HttpResponse>(handler.handle(req));
  };
  const std::string pod =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
          "spec":{"containers":[{"name":"c","image":"i"}]}})";
  ASSERT_EQ(send("POST", "/api/v1/namespaces/default/pods", pod, "application/json").status, 201);
  const std::string wrong_uid = envelope(
      "v1", "DeleteOptions", varint_field(1, 0) + bytes_field(2, bytes_field(1, "not-the-uid")));
  const HttpResponse refused = send("DELETE", "/api/v1/namespaces/default/pods/p", wrong_uid,
                                    std::string(kProtobufContentType));
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("Precondition failed: UID in precondition: not-the-uid"),
            std::string::npos);
  const HttpResponse garbled = send("DELETE", "/api/v1/namespaces/default/pods/p",
                                    std::string("k8s\0\x0a", 5), std::string(kProtobufContentType));
  EXPECT_EQ(garbled.status, 400) << garbled.body;

  const std::string eviction =
      envelope("policy/v1", "Eviction",
               bytes_field(1, bytes_field(1, "p") + bytes_field(3, "default")) +
                   bytes_field(2, varint_field(1, 0)));
  const HttpResponse evicted = send("POST", "/api/v1/namespaces/default/pods/p/eviction", eviction,
                                    std::string(kProtobufContentType));
  EXPECT_EQ(evicted.status, 201) << evicted.body;
  EXPECT_EQ(send("GET", "/api/v1/namespaces/default/pods/p", "", "").status, 404);
}

}  // namespace
}  // namespace fairway::apiserver

// events.k8s.io/v1 Events: one storage with core/v1 Events, as kube-apiserver has it. An Event
// written through either API is read through the other with Kubernetes' field mapping; lists,
// field selectors, patches and deletes go through the conversion.

#include "sim/apiserver/events_v1.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/faults.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

TEST(EventsV1Test, ConversionRenamesTheFieldsThatDiffer) {
  const json v1 = json::parse(R"({"apiVersion":"events.k8s.io/v1","kind":"Event",
      "metadata":{"name":"e"},"regarding":{"kind":"Pod","name":"p"},"note":"bound",
      "reason":"Scheduled","type":"Normal","reportingController":"fairway",
      "reportingInstance":"fairway-0","action":"Binding","deprecatedCount":3,
      "eventTime":"2026-01-01T00:00:00.000000Z"})");
  const json core = core_event_from_v1(v1);
  EXPECT_EQ(core, json::parse(R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},
      "involvedObject":{"kind":"Pod","name":"p"},"message":"bound","reason":"Scheduled",
      "type":"Normal","reportingComponent":"fairway","reportingInstance":"fairway-0",
      "action":"Binding","count":3,"eventTime":"2026-01-01T00:00:00.000000Z"})"));
  EXPECT_EQ(v1_event_from_core(core), v1);
  EXPECT_EQ(core_event_field_selector("regarding.name=p,reportingController!=x,type=Normal"),
            "involvedObject.name=p,reportingComponent!=x,type=Normal");
  EXPECT_EQ(core_event_field_selector("metadata.name=regarding.x"), "metadata.name=regarding.x");
}

class EventsV1HandlerTest : public ::testing::Test {
 protected:
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::string& content_type = "application/json") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = content_type;
    return std::get<HttpResponse>(handler_.handle(req));
  }
  Store store_;
  Faults faults_;
  ApiHandler handler_{store_, faults_, {}};
};

TEST_F(EventsV1HandlerTest, OneStorageTwoApis) {
  const std::string v1_path = "/apis/events.k8s.io/v1/namespaces/default/events";
  const HttpResponse created = call("POST", v1_path, R"({"apiVersion":"events.k8s.io/v1",
      "kind":"Event","metadata":{"name":"e1"},"regarding":{"kind":"Pod","name":"p"},
      "note":"bound to n1","reason":"Scheduled","type":"Normal",
      "reportingController":"fairway","reportingInstance":"fairway-0","action":"Binding",
      "eventTime":"2026-01-01T00:00:00.000000Z"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(json::parse(created.body)["note"], "bound to n1");

  const json core = json::parse(call("GET", "/api/v1/namespaces/default/events/e1").body);
  EXPECT_EQ(core["apiVersion"], "v1");
  EXPECT_EQ(core["message"], "bound to n1");
  EXPECT_EQ(core["involvedObject"]["name"], "p");
  EXPECT_FALSE(core.contains("note"));

  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/events",
                 R"({"metadata":{"name":"e2"},"involvedObject":{"kind":"Pod","name":"q"},
                     "message":"evicted","reason":"Preempted","type":"Warning"})")
                .status,
            201);
  const json list = json::parse(call("GET", v1_path + "?fieldSelector=regarding.name%3Dq").body);
  EXPECT_EQ(list["kind"], "EventList");
  EXPECT_EQ(list["apiVersion"], "events.k8s.io/v1");
  ASSERT_EQ(list["items"].size(), 1u) << list.dump();
  EXPECT_EQ(list["items"][0]["note"], "evicted");
  EXPECT_EQ(list["items"][0]["regarding"]["name"], "q");

  const HttpResponse patched =
      call("PATCH", v1_path + "/e2", R"({"note":"evicted again"})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body)["note"], "evicted again");
  EXPECT_EQ(json::parse(call("GET", "/api/v1/namespaces/default/events/e2").body)["message"],
            "evicted again");

  EXPECT_EQ(call("DELETE", v1_path + "/e1").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/events/e1").status, 404);

  const json discovery = json::parse(call("GET", "/apis/events.k8s.io").body);
  EXPECT_EQ(discovery["preferredVersion"]["version"], "v1");
}

}  // namespace
}  // namespace fairway::apiserver

// Kubeconfig and in-cluster configuration.
#include "k8s-client/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fairway::k8s {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("fairway-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "certs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  fs::path dir_;
};

// "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64.
constexpr const char* kConfig = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Q0EtREFUQQ==
    tls-server-name: kubernetes.default
- name: prod-cluster
  cluster:
    server: https://prod.example:443
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: false
- name: lab-cluster
  cluster:
    server: http://127.0.0.1:8080
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: ml}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
- name: lab
  context: {cluster: lab-cluster, user: token-file-user}
- name: broken
  context: {cluster: nowhere, user: dev-user}
- name: exec
  context: {cluster: dev-cluster, user: exec-user}
users:
- name: dev-user
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: prod-user
  user:
    client-certificate: certs/client.crt
    client-key: certs/client.key
    token: abc.def
- name: token-file-user
  user:
    tokenFile: certs/token
- name: exec-user
  user:
    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}
)";

TEST_F(KubeconfigTest, CurrentContextWithInlineData) {
  auto config = load_kubeconfig(write("config", kConfig));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CA-DATA");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default");
  EXPECT_EQ(config->client_cert_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_EQ(config->namespace_, "ml");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(config->token.empty());
}

TEST_F(KubeconfigTest, NamedContextWithRelativeFiles) {
  write("certs/ca.crt", "CA-FILE");
  write("certs/client.crt", "CERT-FILE");
  write("certs/client.key", "KEY-FILE");
  auto config = load_kubeconfig(write("config", kConfig), "prod");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://prod.example:443");
  EXPECT_EQ(config->ca_pem, "CA-FILE");
  EXPECT_EQ(config->client_cert_pem, "CERT-FILE");
  EXPECT_EQ(config->client_key_pem, "KEY-FILE");
  EXPECT_EQ(config->token, "abc.def");
}

TEST_F(KubeconfigTest, TokenFileAndInsecure) {
  write("certs/token", "tok\n");
  auto config = load_kubeconfig(write("config", kConfig), "lab");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "http://127.0.0.1:8080");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token_file, (dir_ / "certs/token").string());
}

TEST_F(KubeconfigTest, InsecureTogetherWithACertificateAuthorityIsRefused) {
  const std::string config = R"(apiVersion: v1
kind: Config
current-context: both
clusters:
- name: both
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Q0EtREFUQQ==
    insecure-skip-tls-verify: true
contexts:
- name: both
  context: {cluster: both, user: ""}
)";
  auto loaded = load_kubeconfig(write("config", config));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error(), HasSubstr("clusters[both].cluster: certificate-authority and "
                                        "insecure-skip-tls-verify together"));
}

TEST_F(KubeconfigTest, ErrorsNameFileAndField) {
  const std::string path = write("config", kConfig);
  auto missing_file = load_kubeconfig(path, "prod");  // certs/ca.crt not written
  ASSERT_FALSE(missing_file);
  EXPECT_THAT(missing_file.error(), HasSubstr(path));
  EXPECT_THAT(missing_file.error(),
              HasSubstr("clusters[prod-cluster].cluster.certificate-authority"));

  auto no_context = load_kubeconfig(path, "staging");
  ASSERT_FALSE(no_context);
  EXPECT_THAT(no_context.error(), HasSubstr("context \"staging\" not found"));

  auto no_cluster = load_kubeconfig(path, "broken");
  ASSERT_FALSE(no_cluster);
  EXPECT_THAT(no_cluster.error(), HasSubstr("cluster \"nowhere\" not found"));

  auto exec = load_kubeconfig(path, "exec");
  ASSERT_FALSE(exec);
  EXPECT_THAT(exec.error(), HasSubstr("users[exec-user].user.exec: not supported"));

  auto bad_yaml = load_kubeconfig(write("bad", "clusters: [\n"));
  ASSERT_FALSE(bad_yaml);
  EXPECT_THAT(bad_yaml.error(), HasSubstr("bad"));

  auto bad_base64 = load_kubeconfig(write("b64", R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://x", certificate-authority-data: "!!!"}}]
users: [{name: u, user: {}}]
)"));
  ASSERT_FALSE(bad_base64);
  EXPECT_THAT(bad_base64.error(), HasSubstr("certificate-authority-data: invalid base64"));

  auto bad_server = load_kubeconfig(write("srv", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "ftp://x"}}]
)"));
  ASSERT_FALSE(bad_server);
  EXPECT_THAT(bad_server.error(), HasSubstr("clusters[k].cluster.server"));

  EXPECT_FALSE(load_kubeconfig((dir_ / "absent").string()));
}

// Found by tests/fuzz/kubeconfig_fuzz: a list item that is a scalar made yaml-cpp throw
// BadSubscript out of load_kubeconfig (an uncaught exception at startup) instead of an error.
TEST_F(KubeconfigTest, ListItemsThatAreNotMappingsAreErrorsNotExceptions) {
  for (const char* text : {"clusters:\n- just-a-string\n", "users: [42]\n",
                           "contexts:\n- [a, b]\ncurrent-context: a\n"}) {
    const std::string path = write("odd", text);
    tl::expected<ClusterConfig, std::string> loaded;
    EXPECT_NO_THROW(loaded = load_kubeconfig(path)) << text;
    ASSERT_FALSE(loaded) << text;
    EXPECT_THAT(loaded.error(), HasSubstr("expected a mapping")) << text;
  }
}

TEST_F(KubeconfigTest, MergedListFirstWins) {
  const std::string first = write("first", R"(
current-context: a
contexts: [{name: a, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://first"}}]
)");
  const std::string second = write("second", R"(
current-context: b
contexts: [{name: b, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://second"}}]
)");
  auto config = load_kubeconfig(first + ":" + (dir_ / "missing").string() + ":" + second);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://first");
  auto b = load_kubeconfig(first + ":" + second, "b");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->server, "https://first");  // cluster k from the first file
}

TEST_F(KubeconfigTest, InClusterAndResolveOrder) {
  write("sa/token", "sa-token\n");
  fs::create_directories(dir_ / "sa");
  write("sa/token", "sa-token\n");
  write("sa/ca.crt", "SA-CA");
  write("sa/namespace", "fairway-system\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = in_cluster_config_at((dir_ / "sa").string());
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, "SA-CA");
  EXPECT_EQ(config->token_file, (dir_ / "sa" / "token").string());
  EXPECT_EQ(config->namespace_, "fairway-system");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  auto v6 = in_cluster_config_at((dir_ / "sa").string());
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");

  // --kubeconfig beats $KUBECONFIG beats in-cluster.
  const std::string flag = write("flag", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://flag"}}]
)");
  const std::string env = write("env", R"(
current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://env"}}]
)");
  ::setenv("KUBECONFIG", env.c_str(), 1);
  EXPECT_EQ(resolve_config(flag)->server, "https://flag");
  EXPECT_EQ(resolve_config("")->server, "https://env");
  ::unsetenv("KUBECONFIG");
  auto in_cluster = resolve_config("");  // the real service-account folder is absent here
  ASSERT_FALSE(in_cluster);
  EXPECT_THAT(in_cluster.error(), HasSubstr("in-cluster config"));
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_FALSE(in_cluster_config_at((dir_ / "sa").string()));
}

}  // namespace
}  // namespace fairway::k8s

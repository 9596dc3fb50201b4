// Chat templates: rendering per family on one fixed conversation, against prompt strings written
// out by hand from each family's published template (the Jinja text the reference models ship,
// evaluated by hand with Hugging Face's trim_blocks; named in src/text/chat_template.cpp), not
// produced by the renderer. Detection on Meta's Llama 3 template read from
// ../shared/vectors/ggml-vocab-llama3.gguf and on hand-written representative templates of the
// other families; unknown templates, --chat-template overrides and the messages JSON reader.
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/gguf.h"
#include "text/chat_messages.h"
#include "text/chat_template.h"

using loam::ChatFamily;
using loam::ChatMessage;
using loam::ChatTemplate;

namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are a helpful assistant."},
    {"user", "Hello"},
    {"assistant", "Hi there!"},
    {"user", "What is 2+2?"},
};

std::string render(ChatFamily family, bool add_generation_prompt) {
  return ChatTemplate(family).render(kConversation, add_generation_prompt);
}

ChatFamily detected(const std::string& text) {
  ChatFamily f = ChatFamily::ChatML;
  const loam::Status st = loam::detect_chat_family(text, f);
  if (!st) {
    ::loam_test::record_failure(__FILE__, __LINE__, "detection failed: " + st.message());
    throw ::loam_test::StopCase{};
  }
  return f;
}

}  // namespace

TEST_CASE("llama3 renders headers and <|eot_id|>, without BOS text") {
  const std::string body =
      "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>";
  CHECK_EQ(render(ChatFamily::Llama3, false), body);
  CHECK_EQ(render(ChatFamily::Llama3, true),
           body + "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK_EQ(ChatTemplate(ChatFamily::Llama3).end_of_turn(), std::string("<|eot_id|>"));
  // The template trims each message (`message['content'] | trim`).
  CHECK_EQ(ChatTemplate(ChatFamily::Llama3).render({{"user", "  hi \n"}}, false),
           std::string("<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"));
}

TEST_CASE("chatml renders <|im_start|> turns") {
  const std::string body =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nHello<|im_end|>\n"
      "<|im_start|>assistant\nHi there!<|im_end|>\n"
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n";
  CHECK_EQ(render(ChatFamily::ChatML, false), body);
  CHECK_EQ(render(ChatFamily::ChatML, true), body + "<|im_start|>assistant\n");
  CHECK_EQ(ChatTemplate(ChatFamily::ChatML).end_of_turn(), std::string("<|im_end|>"));
}

TEST_CASE("llama2 puts the system prompt in <<SYS>> and opens later turns with <s>") {
  // Meta's format: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST]
  // {user} [/INST]; the first <s> is the BOS id the tokenizer adds.
  const std::string expected =
      "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello [/INST] Hi there! </s>"
      "<s>[INST] What is 2+2? [/INST]";
  CHECK_EQ(render(ChatFamily::Llama2, false), expected);
  CHECK_EQ(render(ChatFamily::Llama2, true), expected);  // [/INST] already opens the answer
  CHECK_EQ(ChatTemplate(ChatFamily::Llama2).end_of_turn(), std::string("</s>"));
  // Without a system message there is no <<SYS>> block.
  CHECK_EQ(ChatTemplate(ChatFamily::Llama2).render({{"user", "Hi"}}, true),
           std::string("[INST] Hi [/INST]"));
}

TEST_CASE("mistral has no <<SYS>> block and no BOS between turns") {
  const std::string expected =
      "[INST] You are a helpful assistant.\n\nHello [/INST]Hi there!</s>"
      "[INST] What is 2+2? [/INST]";
  CHECK_EQ(render(ChatFamily::Mistral, false), expected);
  CHECK_EQ(render(ChatFamily::Mistral, true), expected);
  CHECK_EQ(ChatTemplate(ChatFamily::Mistral).end_of_turn(), std::string("</s>"));
}

TEST_CASE("zephyr ends each turn with the EOS text") {
  const std::string body =
      "<|system|>\nYou are a helpful assistant.</s>\n"
      "<|user|>\nHello</s>\n"
      "<|assistant|>\nHi there!</s>\n"
      "<|user|>\nWhat is 2+2?</s>\n";
  CHECK_EQ(render(ChatFamily::Zephyr, false), body);
  CHECK_EQ(render(ChatFamily::Zephyr, true), body + "<|assistant|>\n");
  CHECK_EQ(ChatTemplate(ChatFamily::Zephyr).end_of_turn(), std::string("</s>"));
  // A vocabulary whose EOS is another text (StableLM's <|endoftext|>) gets that text.
  loam::ChatSpecialTexts sp;
  sp.eos = "<|endoftext|>";
  CHECK_EQ(ChatTemplate(ChatFamily::Zephyr, sp).render({{"user", "Hi"}}, true),
           std::string("<|user|>\nHi<|endoftext|>\n<|assistant|>\n"));
  CHECK_EQ(ChatTemplate(ChatFamily::Zephyr, sp).end_of_turn(), std::string("<|endoftext|>"));
}

TEST_CASE("gemma calls the assistant 'model' and puts the system text before the first user text") {
  const std::string body =
      "<start_of_turn>user\nYou are a helpful assistant.\n\nHello<end_of_turn>\n"
      "<start_of_turn>model\nHi there!<end_of_turn>\n"
      "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n";
  CHECK_EQ(render(ChatFamily::Gemma, false), body);
  CHECK_EQ(render(ChatFamily::Gemma, true), body + "<start_of_turn>model\n");
  CHECK_EQ(ChatTemplate(ChatFamily::Gemma).end_of_turn(), std::string("<end_of_turn>"));
}

TEST_CASE("phi3 ends each turn with <|end|>") {
  const std::string body =
      "<|system|>\nYou are a helpful assistant.<|end|>\n"
      "<|user|>\nHello<|end|>\n"
      "<|assistant|>\nHi there!<|end|>\n"
      "<|user|>\nWhat is 2+2?<|end|>\n";
  CHECK_EQ(render(ChatFamily::Phi3, false), body);
  CHECK_EQ(render(ChatFamily::Phi3, true), body + "<|assistant|>\n");
  CHECK_EQ(ChatTemplate(ChatFamily::Phi3).end_of_turn(), std::string("<|end|>"));
}

TEST_CASE("detection: Meta's Llama 3 template from ggml-vocab-llama3.gguf (shared)") {
  const std::string path = loam_test::shared_file("vectors/ggml-vocab-llama3.gguf");
  loam::GgufFile file;
  const loam::Status st = loam::GgufFile::open(path, file);
  REQUIRE(st.is_ok());
  std::string text;
  REQUIRE(file.get_string("tokenizer.chat_template", text).is_ok());
  CHECK(text.find("<|start_header_id|>") != std::string::npos);  // the file is what we think
  CHECK(detected(text) == ChatFamily::Llama3);
}

TEST_CASE("detection: representative templates of each family") {
  // Hand-written in the shape of each family's published template.
  const std::string llama2 =
      "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}"
      "{% endif %}{% for message in messages %}{% if loop.index0 == 0 and system_message %}"
      "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
      "{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
      "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
      "eos_token }}{% endif %}{% endfor %}";
  const std::string mistral =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
      "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
      "{{ message['content'] + eos_token}}{% endif %}{% endfor %}";
  const std::string chatml =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
      "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const std::string zephyr =
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
      "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
      "{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
      "'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
      "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
      "{% endfor %}";
  const std::string gemma =
      "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
      "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
      "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
      "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
  const std::string phi3 =
      "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
      "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + "
      "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}"
      "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
  CHECK(detected(llama2) == ChatFamily::Llama2);
  CHECK(detected(mistral) == ChatFamily::Mistral);
  CHECK(detected(chatml) == ChatFamily::ChatML);
  CHECK(detected(zephyr) == ChatFamily::Zephyr);
  CHECK(detected(gemma) == ChatFamily::Gemma);
  CHECK(detected(phi3) == ChatFamily::Phi3);
  // A bare family name is accepted as the template, as llama.cpp accepts one.
  CHECK(detected("gemma") == ChatFamily::Gemma);
}

TEST_CASE("unknown or missing template: an error that lists the names") {
  ChatFamily f = ChatFamily::ChatML;
  const loam::Status unknown =
      loam::detect_chat_family("{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n"
                               "{% endfor %}", f);
  REQUIRE(!unknown.is_ok());
  CHECK(unknown.message().find("not one Loam knows") != std::string::npos);
  CHECK(unknown.message().find("--chat-template") != std::string::npos);
  CHECK(unknown.message().find("llama2, mistral, llama3, chatml, zephyr, gemma, phi3") !=
        std::string::npos);
  const loam::Status empty = loam::detect_chat_family("", f);
  REQUIRE(!empty.is_ok());
  CHECK(empty.message().find("no chat template") != std::string::npos);
}

TEST_CASE("--chat-template overrides detection; an unknown name is an error") {
  ChatFamily f = ChatFamily::ChatML;
  // A Llama 3 style template, rendered as chatml because the user said so.
  CHECK(loam::resolve_chat_family("<|start_header_id|>x<|end_header_id|>", "chatml", f).is_ok());
  CHECK(f == ChatFamily::ChatML);
  // An override also rescues a model without a template.
  CHECK(loam::resolve_chat_family("", "llama2", f).is_ok());
  CHECK(f == ChatFamily::Llama2);
  CHECK(loam::resolve_chat_family("<|im_start|>", "", f).is_ok());
  CHECK(f == ChatFamily::ChatML);
  const loam::Status bad = loam::resolve_chat_family("<|im_start|>", "vicuna", f);
  REQUIRE(!bad.is_ok());
  CHECK(bad.message().find("unknown chat template 'vicuna'") != std::string::npos);
  CHECK(bad.message().find("phi3") != std::string::npos);
}

TEST_CASE("messages JSON: a valid array") {
  std::vector<ChatMessage> m;
  REQUIRE(loam::parse_chat_messages(
              "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
              " {\"content\":\"Hi\\nthere\",\"role\":\"user\"}]", m)
              .is_ok());
  REQUIRE(m.size() == 2);
  CHECK_EQ(m[0].role, std::string("system"));
  CHECK_EQ(m[0].content, std::string("Be brief."));
  CHECK_EQ(m[1].role, std::string("user"));
  CHECK_EQ(m[1].content, std::string("Hi\nthere"));
}

TEST_CASE("messages JSON: bad input gives a one-line error naming the fault") {
  struct Bad {
    const char* json;
    const char* message_part;
  };
  const Bad cases[] = {
      {"", "messages: JSON"},
      {"[{\"role\":\"user\",\"content\":\"x\"},]", "messages: JSON"},
      {"{\"role\":\"user\",\"content\":\"x\"}", "expected a JSON array"},
      {"[]", "the array is empty"},
      {"[\"hello\"]", "messages[0]: expected an object"},
      {"[{\"role\":\"user\"}]", "messages[0]: missing \"content\""},
      {"[{\"content\":\"x\"}]", "messages[0]: missing \"role\""},
      {"[{\"role\":\"user\",\"content\":3}]", "messages[0].content: expected a string"},
      {"[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"bot\",\"content\":\"b\"}]",
       "messages[1].role: \"bot\" is not one of"},
      {"[{\"role\":\"user\",\"content\":\"a\",\"name\":\"x\"}]", "unexpected member \"name\""},
  };
  for (const Bad& b : cases) {
    std::vector<ChatMessage> m;
    const loam::Status st = loam::parse_chat_messages(b.json, m);
    CHECK(!st.is_ok());
    if (st.is_ok()) continue;
    CHECK(st.message().find('\n') == std::string::npos);
    if (st.message().find(b.message_part) == std::string::npos) {
      ::loam_test::record_failure(__FILE__, __LINE__, b.json + std::string(" -> ") + st.message());
    }
  }
}

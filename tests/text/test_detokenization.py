import pytest

from issue_summarizer.text.detokenization import detokenize
from issue_summarizer.text.tokenization import tokenize

# (tokens as the model writes them, the text they stand for)
EXAMPLES = [
    # Clitics and the words spaCy splits in two.
    (["does", "n't", "work"], "doesn't work"),
    (["it", "'s", "broken"], "it's broken"),
    (["ca", "n't", "build"], "can't build"),
    (["I", "'m", "stuck"], "I'm stuck"),
    (["we", "'ve", "lost", "it"], "we've lost it"),
    (["you", "'ll", "see"], "you'll see"),
    (["they", "'d", "say"], "they'd say"),
    (["they", "'re", "gone"], "they're gone"),
    (["do", "n’t", "crash"], "don’t crash"),
    (["it", "’s", "slow"], "it’s slow"),
    (["WO", "N'T", "FIX"], "WON'T FIX"),
    (["do", "nt", "crash"], "dont crash"),
    (["can", "not", "open", "file"], "cannot open file"),
    (["gon", "na", "fail"], "gonna fail"),
    # Calls, brackets and braces.
    (["f.read", "(", ")", "of", "a", "log", "file"], "f.read() of a log file"),
    (["foo(bar", ")", "fails"], "foo(bar) fails"),
    (["call", "foo", "(", ")"], "call foo()"),
    (["[", "bug", "]", "selenium.common"], "[bug] selenium.common"),
    (["[", "Bug", "]", "crash"], "[Bug] crash"),
    (["(", "a", "b", ")"], "(a b)"),
    (["{", "x", "}"], "{x}"),
    (["<", "T", ">"], "<T>"),
    (["Vec", "<", "String", ">", "is", "slow"], "Vec<String> is slow"),
    (["HashMap", "<", "K", ",", "V", ">"], "HashMap<K, V>"),
    (["use", "[", "]", "byte"], "use []byte"),
    (["args", "[", "0", "]"], "args[0]"),
    (["see", "(", "foo", ")", "."], "see (foo)."),
    # Quotes.
    (['"', "quoted", '"', "text"], '"quoted" text'),
    (["a", '"', "b", '"', "and", '"', "c", '"'], 'a "b" and "c"'),
    (["'", "single", "'", "quotes"], "'single' quotes"),
    (["it", "'s", "'", "ok", "'"], "it's 'ok'"),
    (["the", "users", "'", "data"], "the users' data"),
    (["no", "module", "named", "'", "x", "'"], "no module named 'x'"),
    (["“", "curly", "”", "and", "‘", "single", "’"], "“curly” and ‘single’"),
    (['dtype="float16', '"', "fails"], 'dtype="float16" fails'),
    # Paths, versions, flags and identifiers.
    (["path", "/", "to", "/", "file"], "path/to/file"),
    (["a", "/", "b"], "a/b"),
    (["v1.2.3"], "v1.2.3"),
    (["1.2"], "1.2"),
    (["C++", "support"], "C++ support"),
    (["use", "--flag"], "use --flag"),
    (["node", "-", "gyp"], "node-gyp"),
    (["64", "-", "bit"], "64-bit"),
    (["&", "_", "x"], "&_x"),
    (["&", "mut", "self"], "&mut self"),
    (["foo::bar"], "foo::bar"),
    (["#", "123"], "#123"),
    (["@user"], "@user"),
    (["$", "HOME"], "$HOME"),
    (["50", "%", "slower"], "50% slower"),
    (["8", "GB", "of", "RAM"], "8GB of RAM"),
    (["xxnum", "gb", "of", "ram"], "xxnum gb of ram"),
    (["C", "#", "bindings"], "C# bindings"),
    (["e.g.", "this"], "e.g. this"),
    # Punctuation and operators.
    (["a", ",", "b"], "a, b"),
    (["the", "end", "."], "the end."),
    (["the", "end", "?"], "the end?"),
    (["the", "end", "!"], "the end!"),
    (["the", "end", ":"], "the end:"),
    (["the", "end", ";"], "the end;"),
    (["wait", "..."], "wait..."),
    (["...", "and", "more"], "... and more"),
    (["a", "-", ">", "b"], "a -> b"),
    (["a", "=", ">", "b"], "a => b"),
    (["x", "=", "y"], "x = y"),
    (["x", "!", "=", "y"], "x != y"),
    (["x", ">", "=", "y"], "x >= y"),
    (["a", "+", "b"], "a + b"),
    (["in", ":", "terminal"], "in :terminal"),
    (["println", "!", "(", ")"], "println!()"),
    (["a", "—", "b"], "a — b"),
]


@pytest.mark.parametrize(("tokens", "expected"), EXAMPLES)
def test_rules_join_tokens_as_text(tokens, expected):
    assert detokenize(tokens) == expected


# Written titles that spaCy's tokens and the rules reproduce exactly.
ROUND_TRIPS = [
    "Can't load model.h5 after upgrading to v2.3.1",
    "f.read() returns empty bytes for a log file",
    'Error "module not found" when importing numpy',
    "TypeError: 'NoneType' object has no attribute 'shape'",
    "node-gyp fails on Windows (64-bit)",
    "Vec<String> should implement From<&str>",
    "[Feature Request] support --dry-run in the CLI",
    "I'm seeing 100% CPU with 8GB of RAM, e.g. in path/to/file",
    "it's slow: a -> b takes 5s",
    "`__init__` is called twice for `nn.Module`",
    "C++ build fails with --flag and std::vector",
    "use __str__, not __repr__",
]


@pytest.mark.parametrize("title", ROUND_TRIPS)
def test_tokenize_then_detokenize_gives_the_title_back(title):
    assert detokenize(tokenize(title)) == title


def test_known_spaces_override_the_rules():
    tokens = ["node", "-", "gyp", "(", "x", ")"]
    assert detokenize(tokens) == "node-gyp (x)"
    assert detokenize(tokens, [True, True, False, False, None, None]) == "node - gyp(x)"
    assert detokenize(["does", "n't"], [True, None]) == "does n't"
    assert detokenize(["a", "b"], [False, None]) == "ab"


def test_unknown_spaces_fall_back_to_the_rules():
    tokens = ["foo", "(", ")", "works"]
    assert detokenize(tokens, [None] * 4) == detokenize(tokens) == "foo() works"
    assert detokenize(tokens, [None] * 3) == "foo() works"


def test_spaces_after_must_match_the_tokens():
    with pytest.raises(ValueError):
        detokenize(["a", "b", "c"], [True])


def test_empty_and_single_token():
    assert detokenize([]) == ""
    assert detokenize(["word"]) == "word"
    assert detokenize(("tuple", "input")) == "tuple input"

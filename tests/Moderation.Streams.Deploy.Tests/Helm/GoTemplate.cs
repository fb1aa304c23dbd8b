using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// A small interpreter for the subset of Go's text/template and Helm/sprig functions that this chart uses, so
/// the chart can be rendered and its objects validated on a machine without helm. It is deliberately strict:
/// an unknown function, a field of nothing or printing a map is an error naming the template and line, where
/// helm would sometimes print "&lt;no value&gt;" or "map[...]". It is not helm: where they could differ,
/// `helm template` on a machine that has helm is the judge (README, "Running in production").
/// Supported: actions with trim markers and comments; if / else if / else, range (lists and maps, one or two
/// variables), with, define, template, variables (:= and =); pipelines with parentheses; the functions in
/// <see cref="Call"/>.
/// </summary>
public sealed class GoTemplate
{
    private readonly Dictionary<string, List<Node>> _templates = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="text"/>; its body becomes template <paramref name="name"/> and its
    /// <c>define</c> blocks become templates of their own (later definitions win, as in Go).</summary>
    public void Add(string name, string text)
    {
        var parser = new Parser(name, Lex(name, text), _templates);
        _templates[name] = parser.ParseAll();
    }

    public bool Has(string name) => _templates.ContainsKey(name);

    public string Execute(string name, object? data)
    {
        var sb = new StringBuilder();
        Run(name, data, sb);
        return sb.ToString();
    }

    private void Run(string name, object? data, StringBuilder output)
    {
        if (!_templates.TryGetValue(name, out var body))
            throw new TemplateException($"no template \"{name}\"");
        var scope = new Scope(null);
        scope.Declare("$", data);
        Exec(body, data, scope, output);
    }

    // ---------------------------------------------------------------- lexing

    private abstract record Token(string Template, int Line);
    private sealed record TextToken(string Template, int Line, string Text) : Token(Template, Line);
    private sealed record ActionToken(string Template, int Line, string Body) : Token(Template, Line);

    private static List<Token> Lex(string name, string text)
    {
        var tokens = new List<Token>();
        int pos = 0, line = 1;
        bool trimNext = false;
        while (pos < text.Length)
        {
            int open = text.IndexOf("{{", pos, StringComparison.Ordinal);
            string chunk = open < 0 ? text[pos..] : text[pos..open];
            if (trimNext) chunk = chunk.TrimStart(' ', '\t', '\r', '\n');
            bool trimLeft = open >= 0 && open + 3 < text.Length && text[open + 2] == '-' && char.IsWhiteSpace(text[open + 3]);
            if (trimLeft) chunk = chunk.TrimEnd(' ', '\t', '\r', '\n');
            if (chunk.Length > 0) tokens.Add(new TextToken(name, line, chunk));
            line += CountLines(text, pos, open < 0 ? text.Length : open);
            if (open < 0) break;

            int bodyStart = open + (trimLeft ? 3 : 2);
            int close = FindClose(text, bodyStart) ?? throw new TemplateException($"{name}:{line}: unclosed action");
            string body = text[bodyStart..close];
            trimNext = body.EndsWith(" -", StringComparison.Ordinal) || body.EndsWith("\t-", StringComparison.Ordinal) || body.EndsWith("\n-", StringComparison.Ordinal);
            if (trimNext) body = body[..^1];
            body = body.Trim();
            if (!(body.StartsWith("/*", StringComparison.Ordinal) && body.EndsWith("*/", StringComparison.Ordinal)))
                tokens.Add(new ActionToken(name, line, body));
            line += CountLines(text, open, close + 2);
            pos = close + 2;
        }
        return tokens;
    }

    private static int CountLines(string text, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to; i++) if (text[i] == '\n') n++;
        return n;
    }

    private static int? FindClose(string text, int from)
    {
        bool inComment = text.AsSpan(from).TrimStart().StartsWith("/*");
        if (inComment)
        {
            int end = text.IndexOf("*/", from, StringComparison.Ordinal);
            if (end < 0) return null;
            int close = text.IndexOf("}}", end, StringComparison.Ordinal);
            return close < 0 ? null : close;
        }
        char quote = '\0';
        for (int i = from; i < text.Length - 1; i++)
        {
            char c = text[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"') i++;
                else if (c == quote) quote = '\0';
            }
            else if (c is '"' or '`' or '\'') quote = c;
            else if (c == '}' && text[i + 1] == '}') return i;
        }
        return null;
    }

    // ---------------------------------------------------------------- parse tree

    private abstract record Node(string Template, int Line)
    {
        public string Where => $"{Template}:{Line}";
    }
    private sealed record TextNode(string Template, int Line, string Text) : Node(Template, Line);
    private sealed record ActionNode(string Template, int Line, Pipeline Pipe, string? Variable, bool Declare) : Node(Template, Line);
    private sealed record IfNode(string Template, int Line, List<(Pipeline Cond, List<Node> Body)> Branches, List<Node>? Else) : Node(Template, Line);
    private sealed record WithNode(string Template, int Line, Pipeline Pipe, List<Node> Body, List<Node>? Else) : Node(Template, Line);
    private sealed record RangeNode(string Template, int Line, string? KeyVar, string? ValueVar, Pipeline Pipe, List<Node> Body, List<Node>? Else) : Node(Template, Line);
    private sealed record TemplateCallNode(string Template, int Line, string Name, Pipeline? Pipe) : Node(Template, Line);

    private sealed record Pipeline(List<Command> Commands);
    private sealed record Command(List<Operand> Args);
    private abstract record Operand;
    private sealed record Literal(object? Value) : Operand;
    private sealed record Field(string[] Path) : Operand;               // .A.B ; empty path = dot
    private sealed record Variable(string Name, string[] Path) : Operand; // $x.A ; $ is the root
    private sealed record Identifier(string Name) : Operand;            // a function
    private sealed record SubPipe(Pipeline Pipe, string[] Path) : Operand;

    private sealed class Parser(string name, List<Token> tokens, Dictionary<string, List<Node>> templates)
    {
        private int _pos;

        public List<Node> ParseAll()
        {
            var body = ParseList(out var stop);
            if (stop is not null) throw Error(stop, $"unexpected {{{{{stop.Body}}}}}");
            return body;
        }

        private TemplateException Error(Token at, string message) => new($"{at.Template}:{at.Line}: {message}");

        /// <summary>Nodes up to an {{end}} / {{else ...}} (returned in <paramref name="stop"/>) or the end of input.</summary>
        private List<Node> ParseList(out ActionToken? stop)
        {
            var nodes = new List<Node>();
            stop = null;
            while (_pos < tokens.Count)
            {
                var token = tokens[_pos++];
                if (token is TextToken text)
                {
                    nodes.Add(new TextNode(text.Template, text.Line, text.Text));
                    continue;
                }
                var action = (ActionToken)token;
                var (keyword, rest) = SplitKeyword(action.Body);
                switch (keyword)
                {
                    case "end":
                    case "else":
                        stop = action;
                        return nodes;
                    case "if":
                        nodes.Add(ParseIf(action, rest));
                        break;
                    case "with":
                    {
                        var body = ParseList(out var end);
                        List<Node>? elseBody = null;
                        if (end is not null && SplitKeyword(end.Body).Keyword == "else") elseBody = ParseList(out end);
                        RequireEnd(action, end);
                        nodes.Add(new WithNode(name, action.Line, ParsePipe(action, rest), body, elseBody));
                        break;
                    }
                    case "range":
                    {
                        string? keyVar = null, valueVar = null;
                        int decl = rest.IndexOf(":=", StringComparison.Ordinal);
                        if (decl >= 0)
                        {
                            var vars = rest[..decl].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                            if (vars.Length == 2) (keyVar, valueVar) = (vars[0], vars[1]);
                            else valueVar = vars[0];
                            rest = rest[(decl + 2)..];
                        }
                        var body = ParseList(out var end);
                        List<Node>? elseBody = null;
                        if (end is not null && SplitKeyword(end.Body).Keyword == "else") elseBody = ParseList(out end);
                        RequireEnd(action, end);
                        nodes.Add(new RangeNode(name, action.Line, keyVar, valueVar, ParsePipe(action, rest), body, elseBody));
                        break;
                    }
                    case "define":
                    {
                        var defName = (string)new ExpressionReader(rest, action, this).ReadLiteralString();
                        var body = ParseList(out var end);
                        RequireEnd(action, end);
                        templates[defName] = body;
                        break;
                    }
                    case "template":
                    {
                        var reader = new ExpressionReader(rest, action, this);
                        var callName = reader.ReadLiteralString();
                        var pipeText = reader.Rest.Trim();
                        nodes.Add(new TemplateCallNode(name, action.Line, callName, pipeText.Length == 0 ? null : ParsePipe(action, pipeText)));
                        break;
                    }
                    case "block":
                    case "break":
                    case "continue":
                        throw Error(action, $"{keyword} is not supported by this renderer");
                    default:
                        nodes.Add(ParseAction(action));
                        break;
                }
            }
            return nodes;
        }

        private IfNode ParseIf(ActionToken action, string condition)
        {
            var branches = new List<(Pipeline, List<Node>)>();
            List<Node>? elseBody = null;
            var cond = ParsePipe(action, condition);
            while (true)
            {
                var body = ParseList(out var stop);
                branches.Add((cond, body));
                if (stop is null) throw Error(action, $"{{{{{action.Body}}}}} has no matching end");
                var (keyword, rest) = SplitKeyword(stop.Body);
                if (keyword == "end") break;
                var (inner, innerRest) = SplitKeyword(rest);
                if (inner == "if")
                {
                    cond = ParsePipe(stop, innerRest);
                    continue;
                }
                if (rest.Length > 0) throw Error(stop, $"else {rest} is not supported by this renderer");
                elseBody = ParseList(out var end);
                RequireEnd(action, end);
                break;
            }
            return new IfNode(name, action.Line, branches, elseBody);
        }

        private void RequireEnd(ActionToken opener, ActionToken? end)
        {
            if (end is null || SplitKeyword(end.Body).Keyword != "end")
                throw Error(opener, $"{{{{{opener.Body}}}}} has no matching end");
        }

        private ActionNode ParseAction(ActionToken action)
        {
            var body = action.Body;
            if (body.StartsWith('$'))
            {
                int declare = body.IndexOf(":=", StringComparison.Ordinal);
                int assign = declare < 0 ? IndexOfAssign(body) : -1;
                int at = declare >= 0 ? declare : assign;
                if (at > 0 && body[..at].Trim().All(c => c == '$' || char.IsLetterOrDigit(c) || c == '_'))
                    return new ActionNode(name, action.Line, ParsePipe(action, body[(at + (declare >= 0 ? 2 : 1))..]), body[..at].Trim(), declare >= 0);
            }
            return new ActionNode(name, action.Line, ParsePipe(action, body), null, false);
        }

        private static int IndexOfAssign(string body)
        {
            int i = body.IndexOf('=');
            return i > 0 && (i + 1 >= body.Length || body[i + 1] != '=') ? i : -1;
        }

        private static (string Keyword, string Remainder) SplitKeyword(string body)
        {
            int i = 0;
            while (i < body.Length && char.IsLetter(body[i])) i++;
            var word = body[..i];
            return word is "if" or "else" or "end" or "range" or "with" or "define" or "template" or "block" or "break" or "continue"
                   && (i == body.Length || !char.IsLetterOrDigit(body[i]) && body[i] != '.')
                ? (word, body[i..].Trim())
                : ("", body);
        }

        public Pipeline ParsePipe(ActionToken at, string text)
        {
            var reader = new ExpressionReader(text, at, this);
            var pipe = reader.ReadPipeline(untilParen: false);
            if (reader.Rest.Trim().Length > 0) throw Error(at, $"unexpected \"{reader.Rest.Trim()}\"");
            return pipe;
        }

        public TemplateException ErrorAt(Token at, string message) => Error(at, message);
    }

    private sealed class ExpressionReader(string text, ActionToken at, Parser parser)
    {
        private int _pos;
        public string Rest => text[_pos..];

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public string ReadLiteralString()
        {
            SkipSpace();
            if (_pos >= text.Length || text[_pos] is not ('"' or '`')) throw parser.ErrorAt(at, "expected a quoted name");
            return (string)ReadString()!;
        }

        public Pipeline ReadPipeline(bool untilParen)
        {
            var commands = new List<Command>();
            var args = new List<Operand>();
            while (true)
            {
                SkipSpace();
                if (_pos >= text.Length)
                {
                    if (untilParen) throw parser.ErrorAt(at, "unclosed (");
                    break;
                }
                char c = text[_pos];
                if (c == ')')
                {
                    if (!untilParen) throw parser.ErrorAt(at, "unexpected )");
                    _pos++;
                    break;
                }
                if (c == '|')
                {
                    _pos++;
                    if (args.Count == 0) throw parser.ErrorAt(at, "empty command before |");
                    commands.Add(new Command(args));
                    args = [];
                    continue;
                }
                args.Add(ReadOperand());
            }
            if (args.Count > 0) commands.Add(new Command(args));
            if (commands.Count == 0) throw parser.ErrorAt(at, "empty pipeline");
            return new Pipeline(commands);
        }

        private Operand ReadOperand()
        {
            char c = text[_pos];
            if (c is '"' or '`') return new Literal(ReadString());
            if (c == '\'')
            {
                // A Go character constant is a number; none is used here.
                throw parser.ErrorAt(at, "character constants are not supported");
            }
            if (c == '(')
            {
                _pos++;
                var pipe = ReadPipeline(untilParen: true);
                return new SubPipe(pipe, ReadPath());
            }
            if (c == '.')
            {
                var path = ReadPath();
                return new Field(path);
            }
            if (c == '$')
            {
                int start = _pos++;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                var varName = text[start.._pos];
                return new Variable(varName, ReadPath());
            }
            if (char.IsDigit(c) || (c == '-' && _pos + 1 < text.Length && char.IsDigit(text[_pos + 1])))
            {
                int start = _pos++;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] is '.' or '_' or '+' or '-')) _pos++;
                var number = text[start.._pos];
                if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return new Literal(l);
                if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return new Literal(d);
                throw parser.ErrorAt(at, $"bad number {number}");
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = _pos;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                var word = text[start.._pos];
                return word switch
                {
                    "true" => new Literal(true),
                    "false" => new Literal(false),
                    "nil" => new Literal(null),
                    _ => new Identifier(word),
                };
            }
            throw parser.ErrorAt(at, $"unexpected character '{c}'");
        }

        /// <summary>Reads ".A.B" (possibly just "."); returns the names.</summary>
        private string[] ReadPath()
        {
            var parts = new List<string>();
            while (_pos < text.Length && text[_pos] == '.')
            {
                _pos++;
                int start = _pos;
                while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                if (_pos > start) parts.Add(text[start.._pos]);
                else if (parts.Count > 0) throw parser.ErrorAt(at, "empty field name");
            }
            return [.. parts];
        }

        private object ReadString()
        {
            char quote = text[_pos++];
            var sb = new StringBuilder();
            while (_pos < text.Length && text[_pos] != quote)
            {
                char c = text[_pos++];
                if (c == '\\' && quote == '"' && _pos < text.Length)
                {
                    char e = text[_pos++];
                    sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', '"' => '"', _ => throw parser.ErrorAt(at, $"escape \\{e} is not supported") });
                }
                else sb.Append(c);
            }
            if (_pos >= text.Length) throw parser.ErrorAt(at, "unterminated string");
            _pos++;
            return sb.ToString();
        }
    }

    // ---------------------------------------------------------------- execution

    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);
        public Scope? Parent => parent;
        public void Declare(string name, object? value) => _vars[name] = value;

        public object? Get(string name, Node at)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s._vars.TryGetValue(name, out var v)) return v;
            throw new TemplateException($"{at.Where}: undefined variable {name}");
        }

        public void Set(string name, object? value, Node at)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s._vars.ContainsKey(name)) { s._vars[name] = value; return; }
            throw new TemplateException($"{at.Where}: undefined variable {name}");
        }
    }

    private void Exec(List<Node> nodes, object? dot, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case TextNode text:
                    output.Append(text.Text);
                    break;
                case ActionNode action:
                {
                    var value = Eval(action.Pipe, dot, scope, action);
                    if (action.Variable is null) output.Append(Print(value, action));
                    else if (action.Declare) scope.Declare(action.Variable, value);
                    else scope.Set(action.Variable, value, action);
                    break;
                }
                case IfNode @if:
                {
                    bool done = false;
                    foreach (var (cond, body) in @if.Branches)
                    {
                        if (!Truthy(Eval(cond, dot, scope, @if))) continue;
                        Exec(body, dot, new Scope(scope), output);
                        done = true;
                        break;
                    }
                    if (!done && @if.Else is not null) Exec(@if.Else, dot, new Scope(scope), output);
                    break;
                }
                case WithNode with:
                {
                    var value = Eval(with.Pipe, dot, scope, with);
                    if (Truthy(value)) Exec(with.Body, value, new Scope(scope), output);
                    else if (with.Else is not null) Exec(with.Else, dot, new Scope(scope), output);
                    break;
                }
                case RangeNode range:
                {
                    var items = Eval(range.Pipe, dot, scope, range) switch
                    {
                        null => [],
                        IList<object?> list => list.Select((v, i) => ((object?)(long)i, v)).ToList(),
                        IDictionary<string, object?> map => map.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => ((object?)kv.Key, kv.Value)).ToList(),
                        long n => Enumerable.Range(0, (int)n).Select(i => ((object?)(long)i, (object?)(long)i)).ToList(),
                        var other => throw new TemplateException($"{range.Where}: range can't iterate over {Describe(other)}"),
                    };
                    if (items.Count == 0 && range.Else is not null) Exec(range.Else, dot, new Scope(scope), output);
                    foreach (var (key, value) in items)
                    {
                        var inner = new Scope(scope);
                        if (range.KeyVar is not null) inner.Declare(range.KeyVar, key);
                        if (range.ValueVar is not null) inner.Declare(range.ValueVar, value);
                        Exec(range.Body, value, inner, output);
                    }
                    break;
                }
                case TemplateCallNode call:
                {
                    var data = call.Pipe is null ? null : Eval(call.Pipe, dot, scope, call);
                    Run(call.Name, data, output);
                    break;
                }
            }
        }
    }

    private object? Eval(Pipeline pipe, object? dot, Scope scope, Node at)
    {
        object? value = null;
        bool piped = false;
        foreach (var command in pipe.Commands)
        {
            value = EvalCommand(command, dot, scope, at, piped ? new Box(value) : null);
            piped = true;
        }
        return value;
    }

    private sealed record Box(object? Value);

    private object? EvalCommand(Command command, object? dot, Scope scope, Node at, Box? piped)
    {
        if (command.Args[0] is Identifier fn)
        {
            var args = command.Args.Skip(1).Select(a => (Func<object?>)(() => EvalOperand(a, dot, scope, at))).ToList();
            if (piped is not null) args.Add(() => piped.Value);
            return Call(fn.Name, args, at);
        }
        if (command.Args.Count == 1 && piped is null) return EvalOperand(command.Args[0], dot, scope, at);
        // A method with one string argument, like helm's .Files.Get "files/x.yml": a Func<string, object?> in the data.
        if (EvalOperand(command.Args[0], dot, scope, at) is Func<string, object?> method)
        {
            var args = command.Args.Skip(1).Select(a => EvalOperand(a, dot, scope, at)).ToList();
            if (piped is not null) args.Add(piped.Value);
            if (args.Count != 1) throw new TemplateException($"{at.Where}: the method wants 1 argument, got {args.Count}");
            return method(ToText(args[0]));
        }
        throw new TemplateException($"{at.Where}: can't give arguments to a non-function");
    }

    private object? EvalOperand(Operand operand, object? dot, Scope scope, Node at) => operand switch
    {
        Literal l => l.Value,
        Field f => Walk(dot, f.Path, at, "."),
        Variable v => Walk(scope.Get(v.Name, at), v.Path, at, v.Name),
        SubPipe s => Walk(Eval(s.Pipe, dot, scope, at), s.Path, at, "(...)"),
        Identifier i => Call(i.Name, [], at),
        _ => throw new InvalidOperationException(),
    };

    private static object? Walk(object? value, string[] path, Node at, string start)
    {
        var walked = start;
        foreach (var name in path)
        {
            value = value switch
            {
                IDictionary<string, object?> map => map.TryGetValue(name, out var v) ? v : null,
                null => throw new TemplateException($"{at.Where}: nil pointer evaluating {walked}.{name}"),
                _ => throw new TemplateException($"{at.Where}: can't evaluate field {name} in {Describe(value)}"),
            };
            walked = walked == "." ? "." + name : walked + "." + name;
        }
        return value;
    }

    // ---------------------------------------------------------------- functions

    private object? Call(string name, List<Func<object?>> args, Node at)
    {
        object? Arg(int i) => args[i]();
        string Str(int i) => ToText(Arg(i));
        void Need(int n)
        {
            if (args.Count != n) throw new TemplateException($"{at.Where}: {name} wants {n} arguments, got {args.Count}");
        }

        switch (name)
        {
            case "include":
            {
                Need(2);
                var sb = new StringBuilder();
                var included = Str(0);
                if (!_templates.ContainsKey(included)) throw new TemplateException($"{at.Where}: no template \"{included}\"");
                Run(included, Arg(1), sb);
                return sb.ToString();
            }
            case "and":
            {
                object? last = null;
                foreach (var a in args) { last = a(); if (!Truthy(last)) return last; }
                return last;
            }
            case "or":
            {
                object? last = null;
                foreach (var a in args) { last = a(); if (Truthy(last)) return last; }
                return last;
            }
            case "not": Need(1); return !Truthy(Arg(0));
            case "eq":
            {
                var first = Arg(0);
                return args.Skip(1).Any(a => ValuesEqual(first, a()));
            }
            case "ne": Need(2); return !ValuesEqual(Arg(0), Arg(1));
            case "lt": Need(2); return ToDouble(Arg(0), at) < ToDouble(Arg(1), at);
            case "le": Need(2); return ToDouble(Arg(0), at) <= ToDouble(Arg(1), at);
            case "gt": Need(2); return ToDouble(Arg(0), at) > ToDouble(Arg(1), at);
            case "ge": Need(2); return ToDouble(Arg(0), at) >= ToDouble(Arg(1), at);
            case "default":
            {
                if (args.Count == 1) return Arg(0);
                Need(2);
                var given = Arg(1);
                return Truthy(given) ? given : Arg(0);
            }
            case "empty": Need(1); return !Truthy(Arg(0));
            case "required":
            {
                Need(2);
                var v = Arg(1);
                if (v is null || v is string { Length: 0 }) throw new TemplateException($"{at.Where}: required: {Str(0)}");
                return v;
            }
            case "fail": Need(1); throw new TemplateException($"{at.Where}: fail: {Str(0)}");
            case "quote":
                return string.Join(" ", args.Select(a => a()).Where(v => v is not null).Select(v => GoQuote(ToText(v))));
            case "squote":
                return string.Join(" ", args.Select(a => a()).Where(v => v is not null).Select(v => "'" + ToText(v) + "'"));
            case "toString": Need(1); return ToText(Arg(0));
            case "toYaml": Need(1); return YamlValues.ToYaml(Arg(0)).TrimEnd('\n');
            case "toJson": Need(1); return YamlValues.ToJson(Arg(0));
            case "indent": Need(2); return Indent((int)ToLong(Arg(0), at), Str(1));
            case "nindent": Need(2); return "\n" + Indent((int)ToLong(Arg(0), at), Str(1));
            case "trunc":
            {
                Need(2);
                var n = (int)ToLong(Arg(0), at);
                var s = Str(1);
                return n >= 0 ? (s.Length > n ? s[..n] : s) : (s.Length > -n ? s[^(-n)..] : s);
            }
            case "trimSuffix": { Need(2); var s = Str(1); var x = Str(0); return x.Length > 0 && s.EndsWith(x, StringComparison.Ordinal) ? s[..^x.Length] : s; }
            case "trimPrefix": { Need(2); var s = Str(1); var x = Str(0); return x.Length > 0 && s.StartsWith(x, StringComparison.Ordinal) ? s[x.Length..] : s; }
            case "trim": Need(1); return Str(0).Trim();
            case "replace": Need(3); return Str(2).Replace(Str(0), Str(1), StringComparison.Ordinal);
            case "lower": Need(1); return Str(0).ToLowerInvariant();
            case "upper": Need(1); return Str(0).ToUpperInvariant();
            case "contains": Need(2); return Str(1).Contains(Str(0), StringComparison.Ordinal);
            case "hasPrefix": Need(2); return Str(1).StartsWith(Str(0), StringComparison.Ordinal);
            case "hasSuffix": Need(2); return Str(1).EndsWith(Str(0), StringComparison.Ordinal);
            case "printf": return Printf(Str(0), args.Skip(1).Select(a => a()).ToList(), at);
            case "print": return GoSprint(args.Select(a => a()).ToList(), at);
            case "sha256sum": Need(1); return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Str(0))));
            case "b64enc": Need(1); return Convert.ToBase64String(Encoding.UTF8.GetBytes(Str(0)));
            case "int":
            case "int64":
                Need(1); return ToLong(Arg(0), at);
            case "float64": Need(1); return ToDouble(Arg(0), at);
            case "atoi": Need(1); return long.TryParse(Str(0), CultureInfo.InvariantCulture, out var parsed) ? parsed : 0L;
            case "len":
                Need(1);
                return Arg(0) switch
                {
                    string s => (long)s.Length,
                    IList<object?> l => (long)l.Count,
                    IDictionary<string, object?> m => (long)m.Count,
                    null => 0L,
                    var o => throw new TemplateException($"{at.Where}: len of {Describe(o)}"),
                };
            case "list": return args.Select(a => a()).ToList();
            case "dict":
            {
                var map = new SortedDictionary<string, object?>(StringComparer.Ordinal);
                for (int i = 0; i + 1 < args.Count; i += 2) map[Str(i)] = Arg(i + 1);
                return map;
            }
            case "hasKey": Need(2); return Arg(0) is IDictionary<string, object?> hk && hk.ContainsKey(Str(1));
            case "keys":
                return args.Select(a => a()).OfType<IDictionary<string, object?>>().SelectMany(m => m.Keys).Order(StringComparer.Ordinal).Cast<object?>().ToList();
            case "index":
            {
                var v = Arg(0);
                for (int i = 1; i < args.Count; i++)
                {
                    var k = Arg(i);
                    v = v switch
                    {
                        IDictionary<string, object?> m => m.TryGetValue(ToText(k), out var x) ? x : null,
                        IList<object?> l => l[(int)ToLong(k, at)],
                        _ => throw new TemplateException($"{at.Where}: can't index {Describe(v)}"),
                    };
                }
                return v;
            }
            case "ternary": Need(3); return Truthy(Arg(2)) ? Arg(0) : Arg(1);
            case "lookup": return new SortedDictionary<string, object?>(StringComparer.Ordinal); // helm template has no cluster
            default:
                throw new TemplateException($"{at.Where}: function \"{name}\" is not supported by this renderer (render with helm, or add it to GoTemplate.Call)");
        }
    }

    private static string Indent(int n, string s)
    {
        var pad = new string(' ', n);
        return pad + s.Replace("\n", "\n" + pad, StringComparison.Ordinal);
    }

    private static string Printf(string format, List<object?> args, Node at)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= format.Length) throw new TemplateException($"{at.Where}: printf: bad format");
            char verb = format[i];
            if (verb == '%') { sb.Append('%'); continue; }
            if (next >= args.Count) throw new TemplateException($"{at.Where}: printf: missing argument for %{verb}");
            var arg = args[next++];
            sb.Append(verb switch
            {
                's' or 'v' => ToText(arg),
                'd' => ToLong(arg, at).ToString(CultureInfo.InvariantCulture),
                'q' => GoQuote(ToText(arg)),
                _ => throw new TemplateException($"{at.Where}: printf verb %{verb} is not supported"),
            });
        }
        if (next != args.Count) throw new TemplateException($"{at.Where}: printf: {args.Count - next} extra argument(s)");
        return sb.ToString();
    }

    private static string GoSprint(List<object?> args, Node at)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < args.Count; i++)
        {
            if (i > 0 && args[i] is not string && args[i - 1] is not string) sb.Append(' ');
            sb.Append(Print(args[i], at));
        }
        return sb.ToString();
    }

    private static string GoQuote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when c < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return sb.Append('"').ToString();
    }

    // ---------------------------------------------------------------- values

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        double d => d != 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    private static bool ValuesEqual(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (long x, double y) => x == y,
        (double x, long y) => x == y,
        _ => Equals(a, b),
    };

    private static long ToLong(object? v, Node at) => v switch
    {
        long l => l,
        double d => (long)d,
        bool b => b ? 1 : 0,
        string s when long.TryParse(s, CultureInfo.InvariantCulture, out var l) => l,
        null => 0,
        _ => throw new TemplateException($"{at.Where}: not a number: {Describe(v)}"),
    };

    private static double ToDouble(object? v, Node at) => v switch
    {
        long l => l,
        double d => d,
        string s when double.TryParse(s, CultureInfo.InvariantCulture, out var d) => d,
        null => 0,
        _ => throw new TemplateException($"{at.Where}: not a number: {Describe(v)}"),
    };

    /// <summary>sprig's toString / Go's %v for scalars.</summary>
    public static string ToText(object? v) => v switch
    {
        null => "<nil>",
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => YamlValues.FormatDouble(d),
        _ => YamlValues.ToJson(v),
    };

    private static string Print(object? v, Node at) => v switch
    {
        null => "",   // helm turns "<no value>" into an empty string
        IDictionary<string, object?> or IList<object?> =>
            throw new TemplateException($"{at.Where}: printing {Describe(v)} directly; use toYaml"),
        _ => ToText(v),
    };

    private static string Describe(object? v) => v switch
    {
        null => "nil",
        IDictionary<string, object?> => "a map",
        IList<object?> => "a list",
        _ => $"{v.GetType().Name} {v}",
    };
}

public sealed class TemplateException(string message) : Exception(message);

using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Moderation.Streams.Deploy.Tests.Docker;

/// <summary>
/// The rules a Dockerfile linter (hadolint) would enforce that matter here, checked without Docker: multi-stage,
/// pinned base images, a non-root numeric USER, a HEALTHCHECK, exec-form ENTRYPOINT/CMD, no remote ADD, no
/// secrets baked into ENV, and a build context that holds every file the COPY lines and the projects need.
/// </summary>
public sealed partial class DockerfileRulesTests
{
    public static TheoryData<string> Dockerfiles() =>
        new(Directory.EnumerateFiles(Path.Combine(RepoPaths.Deploy, "docker"), "Dockerfile*").Select(Path.GetFileName).Order()!);

    private static Dockerfile Load(string name) => new(Path.Combine(RepoPaths.Deploy, "docker", name));

    [Fact]
    public void There_is_a_cpu_and_a_cuda_image()
    {
        Assert.Equal(["Dockerfile", "Dockerfile.cuda"], Dockerfiles().Select(d => (string)d.Data).ToArray());
        Assert.Contains(Load("Dockerfile.cuda").Bases(), b => b.Image.StartsWith("nvidia/cuda:", StringComparison.Ordinal) && b.Image.Contains("-runtime-", StringComparison.Ordinal));
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", Load("Dockerfile").Bases()[^1].Image, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void The_runtime_stage_installs_ffmpeg_and_ffprobe_as_root_before_it_drops_to_the_runtime_user(string name)
    {
        // Video is on by default: an image without ffmpeg sends every video to the DLQ as internal.
        var final = Load(name).FinalStage.ToList();
        var user = final.Single(i => i.Keyword == "USER");
        var install = Assert.Single(final, i => i.Keyword == "RUN" && Regex.IsMatch(i.Arguments, @"\bapt-get install\b[^&]*\sffmpeg\b"));
        Assert.True(install.Line < user.Line, $"{name}:{install.Line}: ffmpeg is installed after USER (as the runtime user)");
        Assert.Contains("--no-install-recommends", install.Arguments);
        Assert.Contains("rm -rf /var/lib/apt/lists/*", install.Arguments);
        // The build fails there if either tool is missing (Debian's ffmpeg package carries both).
        Assert.Matches(@"\bffmpeg -hide_banner -version\b", install.Arguments);
        Assert.Matches(@"\bffprobe -hide_banner -version\b", install.Arguments);
        // Nothing may override the image's PATH so that /usr/bin (ffmpeg, ffprobe) drops out of it.
        foreach (var env in final.Where(i => i.Keyword == "ENV" && i.Arguments.Contains("PATH=", StringComparison.Ordinal)))
            Assert.Matches(@"(^|\s)PATH=[^\s]*\$PATH", env.Arguments);
    }

    [GeneratedRegex(@"^[a-z0-9./-]+(:[A-Za-z0-9._-]*\d+\.\d+\.\d+[A-Za-z0-9._-]*)?(@sha256:[a-f0-9]{64})?$")]
    private static partial Regex PinnedImage();

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Builds_in_stages_from_base_images_pinned_to_exact_versions(string name)
    {
        var file = Load(name);
        var bases = file.Bases();
        Assert.True(bases.Count >= 2, "multi-stage: the SDK never ships");
        var aliases = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (image, alias) in bases)
        {
            if (!aliases.Contains(image))
            {
                Assert.Matches(PinnedImage(), image);
                Assert.True(image.Contains('@') || Regex.IsMatch(image, @":[^:]*\d+\.\d+\.\d+"), $"{image} is not pinned to an exact version");
                Assert.DoesNotContain(":latest", image);
            }
            if (alias is not null) aliases.Add(alias);
        }
        Assert.DoesNotContain("/sdk:", bases[^1].Image);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void The_runtime_stage_runs_as_a_numeric_non_root_user_with_a_healthcheck_and_exec_form_entrypoint(string name)
    {
        var final = Load(name).FinalStage.ToList();
        var user = Assert.Single(final, i => i.Keyword == "USER").Arguments;
        Assert.Matches(@"^[1-9][0-9]*(:[1-9][0-9]*)?$", user);
        var healthcheck = Assert.Single(final, i => i.Keyword == "HEALTHCHECK").Arguments;
        Assert.Contains("CMD [", healthcheck);
        Assert.Contains("healthcheck.dll", healthcheck);
        // The program asks readiness: a worker that is up but cannot screen (no ffmpeg) shows as unhealthy.
        var program = File.ReadAllText(Path.Combine(RepoPaths.Deploy, "docker", "healthcheck", "Program.cs"));
        Assert.Contains("http://127.0.0.1:{port}/readyz", program);
        foreach (var keyword in new[] { "ENTRYPOINT", "CMD" })
        {
            var args = JsonSerializer.Deserialize<string[]>(Assert.Single(final, i => i.Keyword == keyword).Arguments)!;
            Assert.NotEmpty(args);
        }
        var entrypoint = JsonSerializer.Deserialize<string[]>(final.Single(i => i.Keyword == "ENTRYPOINT").Arguments)!;
        Assert.Equal(["dotnet", "/app/moderation.dll"], entrypoint);
        // The USER line comes after every COPY of the stage, so nothing copied is owned by the runtime user.
        Assert.True(final.Where(i => i.Keyword == "COPY").All(c => c.Line < final.Single(i => i.Keyword == "USER").Line));
        // Only root may install (ffmpeg); nothing runs as the runtime user at build time.
        Assert.True(final.Where(i => i.Keyword == "RUN").All(r => r.Line < final.Single(i => i.Keyword == "USER").Line));
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Nothing_is_fetched_by_url_and_no_secret_is_baked_into_the_image(string name)
    {
        var file = Load(name);
        Assert.DoesNotContain(file.Instructions, i => i.Keyword == "ADD");
        Assert.DoesNotContain(file.Instructions, i => i.Keyword == "RUN" && Regex.IsMatch(i.Arguments, @"\b(curl|wget)\b"));
        foreach (var env in file.Instructions.Where(i => i.Keyword is "ENV" or "ARG"))
            Assert.DoesNotMatch(new Regex("(?i)(password|secret|token|sasl)"), env.Arguments);
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Every_file_the_build_copies_exists_and_is_not_excluded_by_dockerignore(string name)
    {
        var ignore = DockerIgnore.Load(Path.Combine(RepoPaths.Root, ".dockerignore"));
        foreach (var (at, source) in Load(name).ContextCopies())
        {
            var path = Path.Combine(RepoPaths.Root, source.TrimEnd('/'));
            var matches = source.Contains('*')
                ? Directory.EnumerateFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path)).ToList()
                : File.Exists(path) ? [path] : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).ToList() : [];
            Assert.True(matches.Count > 0, $"{name}:{at.Line}: COPY {source}: nothing in the repository");
            Assert.Contains(matches, f => !ignore.Excludes(RepoPaths.Relative(f).Replace('\\', '/')));
        }
        foreach (var needed in new[] { "src/Moderation.Streams.Cli/Program.cs", "models/nsfw-mobilenet-v2.onnx", "Directory.Packages.props", "global.json" })
            if (File.Exists(Path.Combine(RepoPaths.Root, needed)))
                Assert.False(ignore.Excludes(needed), $".dockerignore excludes {needed}");
        Assert.True(ignore.Excludes("src/Moderation.Streams.Cli/bin/Release/moderation.dll"));
        Assert.True(ignore.Excludes("tests/Moderation.Streams.Worker.Tests/EndToEndTests.cs"));
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void The_restore_layer_copies_every_project_the_cli_needs_and_the_runtime_carries_its_shared_frameworks(string name)
    {
        var copied = Load(name).ContextCopies().Select(c => c.Source).Where(s => s.EndsWith(".csproj", StringComparison.Ordinal)).ToHashSet();
        var needed = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.Combine(RepoPaths.Root, "src", "Moderation.Streams.Cli", "Moderation.Streams.Cli.csproj")]);
        while (pending.Count > 0)
        {
            var project = Path.GetFullPath(pending.Pop());
            if (!needed.Add(RepoPaths.Relative(project).Replace('\\', '/'))) continue;
            foreach (var reference in XDocument.Load(project).Descendants("ProjectReference"))
                pending.Push(Path.Combine(Path.GetDirectoryName(project)!, reference.Attribute("Include")!.Value));
        }
        Assert.DoesNotContain(needed, p => !copied.Contains(p));

        // A project on the ASP.NET Core shared framework (the worker's Kestrel endpoints) needs the aspnet runtime.
        bool aspNet = needed.Any(p => XDocument.Load(Path.Combine(RepoPaths.Root, p)).Descendants("FrameworkReference")
            .Any(f => f.Attribute("Include")?.Value == "Microsoft.AspNetCore.App"));
        if (aspNet) Assert.Contains(Load(name).Bases(), b => b.Image.StartsWith("mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal));
    }
}

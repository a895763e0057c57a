using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// What a payload of one event type must hold, from the serializer's contract and the C# nullability annotations:
/// every constructor parameter without a default value and every <c>required</c> member must be present (as
/// pyfly's <c>asdict</c> always writes every field), a non-nullable member or collection element may not be null,
/// and each value has the JSON kind of its type. Built once per type.
/// </summary>
internal sealed class PayloadSchema
{
    private static readonly ConcurrentDictionary<(Type, JsonSerializerOptions), PayloadSchema> Cache = new();

    private readonly Node _root;

    private PayloadSchema(Node root) => _root = root;

    public static PayloadSchema For(Type type, JsonSerializerOptions options) =>
        Cache.GetOrAdd((type, options), static key => new PayloadSchema(Build(key.Item1, key.Item2)));

    /// <summary>The first member that breaks the schema, as a path (<c>lines[0].sku</c>), and what is wrong; null when none does.</summary>
    public (string Member, string Problem)? FindViolation(JsonElement payload) => Check(_root, payload, "");

    private enum Expect { Anything, Object, Array, Dictionary, String, Number, Boolean, StringOrNumber }

    /// <summary>A value of one type at one place: the type's shape plus whether that place allows null.</summary>
    private sealed class Node(Expect expect, bool allowsNull)
    {
        public Expect Expect { get; } = expect;
        public bool AllowsNull { get; } = allowsNull;
        public Member[] Members { get; set; } = [];
        public Node? Element { get; set; }
    }

    private sealed record Member(string Name, bool Required, Node Value);

    private static Node Build(Type type, JsonSerializerOptions options) =>
        Build(type, allowsNull: false, nullability: null, options, new HashSet<Type>());

    private static Node Build(Type type, bool allowsNull, NullabilityInfo? nullability, JsonSerializerOptions options, HashSet<Type> building)
    {
        var info = options.GetTypeInfo(type);
        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object when building.Add(type):
                {
                    var node = new Node(Expect.Object, allowsNull);
                    var members = new List<Member>();
                    foreach (var property in info.Properties)
                    {
                        if (property.Set is null && property.AssociatedParameter is null) continue; // computed: written, never read
                        var parameter = property.AssociatedParameter;
                        var required = property.IsRequired || parameter is { HasDefaultValue: false };
                        var nullable = parameter?.IsNullable ?? property.IsSetNullable;
                        members.Add(new Member(property.Name, required,
                            Build(property.PropertyType, nullable, NullabilityOf(property), options, building)));
                    }
                    node.Members = members.ToArray();
                    building.Remove(type);
                    return node;
                }
            case JsonTypeInfoKind.Object:
                return new Node(Expect.Anything, true); // a recursive type: checked by the serializer alone
            case JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary:
                {
                    var elementNullability = nullability?.ElementType
                        ?? (nullability?.GenericTypeArguments is { Length: > 0 } arguments ? arguments[^1] : null);
                    var elementType = info.ElementType!;
                    var elementAllowsNull = elementType.IsValueType
                        ? Nullable.GetUnderlyingType(elementType) is not null
                        : elementNullability?.ReadState != NullabilityState.NotNull;
                    return new Node(info.Kind == JsonTypeInfoKind.Dictionary ? Expect.Dictionary : Expect.Array, allowsNull)
                    {
                        Element = Build(elementType, elementAllowsNull, elementNullability, options, building),
                    };
                }
            default:
                return new Node(ScalarKind(Nullable.GetUnderlyingType(type) ?? type), allowsNull);
        }
    }

    private static NullabilityInfo? NullabilityOf(JsonPropertyInfo property)
    {
        var context = new NullabilityInfoContext();
        return (property.AssociatedParameter?.AttributeProvider ?? property.AttributeProvider) switch
        {
            ParameterInfo parameter => context.Create(parameter),
            PropertyInfo member => context.Create(member),
            FieldInfo field => context.Create(field),
            _ => null,
        };
    }

    private static Expect ScalarKind(Type type)
    {
        if (type.IsEnum) return Expect.StringOrNumber;
        if (type == typeof(string) || type == typeof(char) || type == typeof(Guid) || type == typeof(DateTime) || type == typeof(DateTimeOffset)
            || type == typeof(DateOnly) || type == typeof(TimeOnly) || type == typeof(TimeSpan) || type == typeof(Uri))
            return Expect.String;
        if (type == typeof(bool)) return Expect.Boolean;
        return Type.GetTypeCode(type) is >= TypeCode.SByte and <= TypeCode.Decimal ? Expect.Number : Expect.Anything;
    }

    private static (string, string)? Check(Node node, JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.Null)
            return node.AllowsNull || node.Expect == Expect.Anything ? null : (Name(path), "is null");
        if (!Fits(node.Expect, value.ValueKind))
            return (Name(path), $"is {KindName(value.ValueKind)}, expected {ExpectName(node.Expect)}");
        switch (node.Expect)
        {
            case Expect.Object:
                foreach (var member in node.Members)
                {
                    var memberPath = path.Length == 0 ? member.Name : path + "." + member.Name;
                    if (!value.TryGetProperty(member.Name, out var memberValue))
                    {
                        if (member.Required) return (memberPath, "is missing");
                        continue;
                    }
                    if (Check(member.Value, memberValue, memberPath) is { } violation) return violation;
                }
                return null;
            case Expect.Array:
                var index = 0;
                foreach (var element in value.EnumerateArray())
                {
                    if (Check(node.Element!, element, $"{path}[{index++}]") is { } violation) return violation;
                }
                return null;
            case Expect.Dictionary:
                foreach (var entry in value.EnumerateObject())
                {
                    if (Check(node.Element!, entry.Value, $"{path}[{entry.Name}]") is { } violation) return violation;
                }
                return null;
            default:
                return null;
        }
    }

    private static string Name(string path) => path.Length == 0 ? "(the payload)" : path;

    private static bool Fits(Expect expect, JsonValueKind kind) => expect switch
    {
        Expect.Object or Expect.Dictionary => kind == JsonValueKind.Object,
        Expect.Array => kind == JsonValueKind.Array,
        Expect.String => kind == JsonValueKind.String,
        Expect.Number => kind == JsonValueKind.Number,
        Expect.Boolean => kind is JsonValueKind.True or JsonValueKind.False,
        Expect.StringOrNumber => kind is JsonValueKind.String or JsonValueKind.Number,
        _ => true,
    };

    private static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string ExpectName(Expect expect) => expect switch
    {
        Expect.Object or Expect.Dictionary => "an object",
        Expect.Array => "an array",
        Expect.String => "a string",
        Expect.Number => "a number",
        Expect.Boolean => "a boolean",
        _ => "a string or a number",
    };
}

using System.Text;
using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Api.Http;

/// <summary>How the API names one aggregate type: <c>PurchaseOrder</c> in codes, <c>purchase-order</c> in problem types, "purchase order" in prose.</summary>
public sealed record AggregateName(string Type, string Kebab)
{
    public string Prose => Kebab.Replace('-', ' ');

    public override string ToString() => Type;
}

/// <summary>The <see cref="AggregateName"/> of each aggregate type, computed once per type.</summary>
public static class AggregateNames
{
    public static AggregateName Of<T>() where T : AggregateRoot => Cache<T>.Name;

    /// <summary><c>PurchaseOrder</c> to <c>purchase-order</c>; runs of capitals stay one word (<c>HTTPRequest</c>: <c>http-request</c>).</summary>
    public static string Kebab(string name)
    {
        var kebab = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var startsWord = char.IsUpper(c) && i > 0
                && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])));
            if (startsWord) kebab.Append('-');
            kebab.Append(char.ToLowerInvariant(c));
        }
        return kebab.ToString();
    }

    private static class Cache<T> where T : AggregateRoot
    {
        public static readonly AggregateName Name = new(typeof(T).Name, Kebab(typeof(T).Name));
    }
}

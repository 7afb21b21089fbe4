"""The EduGraph ontology: its terms per dimension and the part-of hierarchy between them."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.paths import cache_dir, write_atomic
from mlx_edugraph.prediction import DIMENSIONS

if TYPE_CHECKING:
    from rdflib import Graph

# v0.4.0 names terms edu#Term; later releases name them edu/Term but keep edu#Area etc.
NAMESPACES = ("http://edugraph.io/edu#", "http://edugraph.io/edu/")
PART_OF = ("partOf", "partOfArea", "partOfScope", "partOfAbility")
EXPANDS = ("expands", "expandsArea", "expandsScope", "expandsAbility")
"""v0.4.0 links Areas with `expandsArea`; v0.21.0 uses plain `expands` (on Areas and Scopes)."""
JSON_SCHEMA = 2
"""Bump when the JSON form changes, so older caches load as a miss."""

_FORMATS = {".ttl": "turtle", ".rdf": "xml", ".owl": "xml", ".xml": "xml", ".nt": "nt"}
_FORMAT_NAMES = {"turtle": "Turtle", "xml": "RDF/XML", "nt": "N-Triples"}
_VERSION = re.compile(r"v?\d+(?:\.\d+)+")


class OntologyError(Exception):
    """A file that cannot be read as an EduGraph ontology; the message names the file."""


@dataclass(frozen=True)
class Term:
    """One EduGraph term: a named individual of one dimension."""

    name: str
    dimension: str
    parents: tuple[str, ...] = ()
    definition: str = ""
    comment: str = ""
    iri: str = ""
    expands: tuple[str, ...] = ()
    """Terms this one builds on (the release's `expands` links): learning paths follow them."""


@dataclass(frozen=True)
class Ontology:
    """All terms of one ontology release, with lookups along the part-of hierarchy."""

    version: str
    terms: dict[str, Term]
    _children: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children: dict[str, list[str]] = {name: [] for name in self.terms}
        for term in self.terms.values():
            for parent in term.parents:
                if parent not in children:
                    raise ValueError(f"parent {parent!r} of {term.name!r} is not a term")
                children[parent].append(term.name)
        object.__setattr__(
            self, "_children", {name: tuple(sorted(kids)) for name, kids in children.items()}
        )

    def get(self, name: str) -> Term | None:
        """The term called `name`, or None."""
        return self.terms.get(name)

    def dimension_of(self, name: str) -> str | None:
        """Area, Scope or Ability for a known term; None for an unknown name."""
        term = self.terms.get(name)
        return term.dimension if term else None

    def children(self, name: str) -> list[str]:
        """Terms directly part of `name`, sorted; empty for an unknown name."""
        return list(self._children.get(name, ()))

    def ancestors(self, name: str) -> set[str]:
        """Every term `name` is transitively part of; empty for an unknown name."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            term = self.terms.get(stack.pop())
            for parent in term.parents if term else ():
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        seen.discard(name)  # only reachable through a cycle
        return seen

    def descendants(self, name: str) -> set[str]:
        """Every term transitively part of `name` (not `name` itself); empty for an unknown name."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            for child in self._children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        seen.discard(name)  # only reachable through a cycle
        return seen

    def paths(self, name: str) -> list[list[str]]:
        """Root-to-term chains, one per way up the hierarchy (a term may have several parents)."""
        if name not in self.terms:
            return []
        return sorted(list(reversed(chain)) for chain in self._chains_up((name,)))

    def _chains_up(self, chain: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        # A parent already on the chain closes a cycle: the chain stops there as if at a root.
        parents = [p for p in self.terms[chain[-1]].parents if p not in chain]
        if not parents:
            yield chain
        for parent in parents:
            yield from self._chains_up((*chain, parent))

    def terms_of(self, dimension: str) -> list[str]:
        """Sorted names of one dimension's terms."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}; expected one of {DIMENSIONS}")
        return sorted(name for name, term in self.terms.items() if term.dimension == dimension)

    def search(self, query: str, dimension: str | None = None, limit: int = 10) -> list[str]:
        """Names best matching `query` (for completion): exact, prefix, substring,
        letters in order ("intmul"), then near-misses; case-insensitive."""
        return search_names(query, self.terms_of(dimension) if dimension else self.terms, limit)

    def to_json(self) -> str:
        """A JSON form that loads without rdflib (the parse cache)."""
        terms = [asdict(self.terms[name]) for name in sorted(self.terms)]
        return json.dumps({"schema": JSON_SCHEMA, "version": self.version, "terms": terms})

    @classmethod
    def from_json(cls, text: str) -> Ontology:
        """Inverse of `to_json`; raises ValueError for anything else (a stale or corrupt cache)."""
        try:
            record = json.loads(text)
            if record["schema"] != JSON_SCHEMA:
                raise ValueError(f"JSON schema {record['schema']!r}, expected {JSON_SCHEMA}")
            terms = [_term_from_dict(item) for item in record["terms"]]
            version = record["version"]
            if not isinstance(version, str):
                raise ValueError("version is not a string")
            return cls(version=version, terms={term.name: term for term in terms})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an ontology JSON: {exc!r}") from exc


def _term_from_dict(item: dict) -> Term:
    texts = [item[key] for key in ("name", "dimension", "definition", "comment", "iri")]
    parents, expands = item["parents"], item["expands"]
    well_formed = (
        all(isinstance(text, str) for text in texts)
        and item["name"]
        and item["dimension"] in DIMENSIONS
        and all(
            isinstance(links, list) and all(isinstance(link, str) and link for link in links)
            for links in (parents, expands)
        )
    )
    if not well_formed:
        raise ValueError(f"malformed term {item!r:.200}")
    name, dimension, definition, comment, iri = texts
    return Term(name, dimension, tuple(parents), definition, comment, iri, tuple(expands))


def search_names(query: str, names: Iterable[str], limit: int = 10) -> list[str]:
    """The names best matching `query`, as `Ontology.search` ranks them (also for names
    without an ontology: the terms a store holds)."""
    names = sorted(names)
    needle = query.strip().lower()
    if not needle:
        return names[:limit]
    scored = [(_match_score(needle, name.lower()), name) for name in names]
    scored = sorted((item for item in scored if item[0] > 0), key=lambda s: (-s[0], s[1]))
    return [name for _, name in scored[:limit]]


def _match_score(needle: str, name: str) -> float:
    # Tiers keep any prefix match above any substring match, and so on; within a tier,
    # the larger the share of the name that was typed, the better.
    share = len(needle) / len(name)
    if name == needle:
        return 5.0
    if name.startswith(needle):
        return 4.0 + share
    if needle in name:
        return 3.0 + share
    letters = iter(name)
    if all(char in letters for char in needle):
        return 2.0 + share
    ratio = difflib.SequenceMatcher(None, needle, name).ratio()
    return ratio if ratio >= 0.6 else 0.0


def local_name(iri: str) -> str:
    """The part of an IRI after its last '#' or '/': the term's name."""
    return re.split(r"[#/]", iri)[-1]


def version_from_name(name: str) -> str | None:
    """A release version such as "v0.4.0" found in a file's name, if any."""
    found = _VERSION.findall(Path(name).name)
    return _normalize_version(found[0]) if found else None


def _normalize_version(text: str) -> str:
    return f"v{text}" if text[:1].isdigit() else text


def parse_ontology(data: bytes, source: str, version: str | None = None) -> Ontology:
    """Parse Turtle or RDF/XML bytes; `source` names the file in errors and picks the format.

    The version is the file's own owl:versionInfo/versionIRI if it has one, else `version`,
    else one found in `source` (like "v0.4.0"), else "unknown".
    """
    return _with_version(_parse(data, source), version, source)


def load_ontology(path: Path, version: str | None = None, *, use_cache: bool = True) -> Ontology:
    """Read and parse an ontology file, reusing its parsed form cached under the file's sha256.

    See `parse_ontology` for the version; raises OntologyError naming the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OntologyError(f"cannot read ontology file {path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    cached = _read_cache(digest) if use_cache else None
    ontology = cached or _parse(data, str(path))
    if use_cache and cached is None:
        # The cache only saves time: a read-only cache folder must not stop the app.
        with contextlib.suppress(OSError):
            write_atomic(_cache_file(digest), ontology.to_json().encode())
    return _with_version(ontology, version, str(path))


def _cache_file(digest: str) -> Path:
    return cache_dir() / "ontology" / "parsed" / f"{digest}.json"


def _read_cache(digest: str) -> Ontology | None:
    try:
        return Ontology.from_json(_cache_file(digest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _with_version(ontology: Ontology, version: str | None, source: str) -> Ontology:
    if ontology.version:
        return ontology
    return replace(ontology, version=version or version_from_name(source) or "unknown")


def _rdf_format(source: str, data: bytes) -> str:
    suffix = Path(source).suffix.lower()
    if suffix in _FORMATS:
        return _FORMATS[suffix]
    # RDF/XML opens with a declaration, a comment, a doctype or a tag; Turtle never does
    # (a Turtle IRI such as <http://...> fails the tag pattern at the colon).
    head = data.lstrip()[:200]
    if re.match(rb"<(\?xml|!|[A-Za-z_][\w.-]*(:[\w.-]+)?[\s/>])", head):
        return "xml"
    return "turtle"


def _parse(data: bytes, source: str) -> Ontology:
    """Terms of an RDF file, with the file's own version or "" if it states none."""
    from rdflib import RDF, RDFS, Graph, Literal, URIRef  # slow import, only on a cache miss

    fmt = _rdf_format(source, data)
    graph = Graph()
    try:
        graph.parse(data=data, format=fmt)
    except Exception as exc:  # rdflib's parsers raise SAX, syntax, Unicode and other errors
        detail = " ".join(str(exc).split())[:300]
        raise OntologyError(
            f"cannot parse ontology file {source} as {_FORMAT_NAMES[fmt]}: {detail}"
        ) from exc

    # Sorted IRIs keep the result independent of the file's triple order. An IRI typed with
    # two dimensions keeps the first in DIMENSIONS order; of two IRIs with one name (edu#X,
    # edu/X) the first sorted wins. Neither happens in the known releases.
    dimensions: dict[str, str] = {}
    iris: dict[str, URIRef] = {}
    for dimension in DIMENSIONS:
        subjects = {
            s for ns in NAMESPACES for s in graph.subjects(RDF.type, URIRef(ns + dimension))
        }
        for iri in sorted(s for s in subjects if isinstance(s, URIRef)):
            name = local_name(iri)
            if name and name not in iris:
                iris[name] = iri
                dimensions[name] = dimension
    if not iris:
        raise OntologyError(
            f"ontology file {source} has no EduGraph terms "
            "(individuals typed Area, Scope or Ability)"
        )

    part_of = [URIRef(ns + p) for ns in NAMESPACES for p in PART_OF]
    expands = [URIRef(ns + p) for ns in NAMESPACES for p in EXPANDS]

    def texts(iri: URIRef, predicate: URIRef) -> str:
        values = {str(o).strip() for o in graph.objects(iri, predicate) if isinstance(o, Literal)}
        return "\n\n".join(sorted(v for v in values if v))

    terms = {}
    for name, iri in iris.items():
        # Parents outside the term set (none in the known releases) are dropped, so every
        # parent can be looked up.
        parents = {local_name(o) for p in part_of for o in graph.objects(iri, p)}
        built_on = {local_name(o) for p in expands for o in graph.objects(iri, p)}
        terms[name] = Term(
            name=name,
            dimension=dimensions[name],
            parents=tuple(sorted(p for p in parents if p in iris and p != name)),
            definition=texts(iri, RDFS.isDefinedBy),
            comment=texts(iri, RDFS.comment),
            iri=str(iri),
            expands=tuple(sorted(t for t in built_on if t in iris and t != name)),
        )
    return Ontology(version=_embedded_version(graph) or "", terms=terms)


def _embedded_version(graph: Graph) -> str | None:
    from rdflib import OWL, RDF

    for ontology in sorted(graph.subjects(RDF.type, OWL.Ontology)):
        infos = sorted(str(info).strip() for info in graph.objects(ontology, OWL.versionInfo))
        if infos:
            return _normalize_version(infos[0])
        for iri in sorted(graph.objects(ontology, OWL.versionIRI)):
            found = _VERSION.findall(str(iri))
            if found:
                return _normalize_version(found[-1])
    return None

package imaging

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
)

// A tiny bitmap font drawn for this package: 5×7 capitals and digits in a
// 5×9 cell whose last two rows hold descenders (g, j, p, q, y, comma, _).
// Each line of glyphSrc is a character followed by its rows, '#' for ink.
// "SP" stands for the space character. Characters without a glyph print '?'.
const glyphSrc = `
SP ..... ..... ..... ..... ..... ..... .....
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ##### ...#. ..#.. ...#. ....# #...# .###.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
a ..... ..... .###. ....# .#### #...# .####
b #.... #.... ####. #...# #...# #...# ####.
c ..... ..... .###. #.... #.... #.... .###.
d ....# ....# .#### #...# #...# #...# .####
e ..... ..... .###. #...# ##### #.... .###.
f ..##. .#..# .#... ###.. .#... .#... .#...
g ..... ..... .#### #...# #...# #...# .#### ....# .###.
h #.... #.... #.##. ##..# #...# #...# #...#
i ..#.. ..... .##.. ..#.. ..#.. ..#.. .###.
j ...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..
k #.... #.... #..#. #.#.. ##... #.#.. #..#.
l .##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
m ..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#
n ..... ..... #.##. ##..# #...# #...# #...#
o ..... ..... .###. #...# #...# #...# .###.
p ..... ..... ####. #...# #...# #...# ####. #.... #....
q ..... ..... .#### #...# #...# #...# .#### ....# ....#
r ..... ..... #.##. ##..# #.... #.... #....
s ..... ..... .#### #.... .###. ....# ####.
t .#... .#... ###.. .#... .#... .#..# ..##.
u ..... ..... #...# #...# #...# #..## .##.#
v ..... ..... #...# #...# #...# .#.#. ..#..
w ..... ..... #...# #...# #.#.# #.#.# .#.#.
x ..... ..... #...# .#.#. ..#.. .#.#. #...#
y ..... ..... #...# #...# #...# #...# .#### ....# .###.
z ..... ..... ##### ...#. ..#.. .#... #####
. ..... ..... ..... ..... ..... .##.. .##..
, ..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...
- ..... ..... ..... .###. ..... ..... .....
+ ..... ..#.. ..#.. ##### ..#.. ..#.. .....
: ..... .##.. .##.. ..... .##.. .##.. .....
; ..... .##.. .##.. ..... .##.. .##.. ..#.. .#...
( ...#. ..#.. .#... .#... .#... ..#.. ...#.
) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
[ .###. .#... .#... .#... .#... .#... .###.
] .###. ...#. ...#. ...#. ...#. ...#. .###.
/ ..... ....# ...#. ..#.. .#... #.... .....
_ ..... ..... ..... ..... ..... ..... ..... #####
% ##... ##..# ...#. ..#.. .#... #..## ...##
= ..... ..... ##### ..... ##### ..... .....
< ...#. ..#.. .#... #.... .#... ..#.. ...#.
> .#... ..#.. ...#. ....# ...#. ..#.. .#...
' ..#.. ..#.. .#... ..... ..... ..... .....
" .#.#. .#.#. .#.#. ..... ..... ..... .....
! ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..
? .###. #...# ....# ...#. ..#.. ..... ..#..
* ..... ..#.. #.#.# .###. #.#.# ..#.. .....
# .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
| ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
`

const (
	glyphW   = 5
	glyphH   = 9 // 7 rows above the baseline, 2 of descender
	advanceW = glyphW + 1
)

// glyphs[c] has one bit per pixel, bit 4 leftmost, for ASCII c.
var glyphs = parseGlyphs(glyphSrc)

func parseGlyphs(src string) (g [128][glyphH]uint8) {
	for _, line := range strings.Split(strings.TrimSpace(src), "\n") {
		f := strings.Fields(line)
		c := f[0]
		if c == "SP" {
			c = " "
		}
		if len(c) != 1 || len(f) < 8 || len(f) > 1+glyphH {
			panic(fmt.Sprintf("imaging: bad glyph line %q", line))
		}
		for r, row := range f[1:] {
			for x, ch := range row {
				if ch == '#' {
					g[c[0]][r] |= 1 << (glyphW - 1 - x)
				}
			}
		}
	}
	return g
}

func hasGlyph(c rune) bool {
	if c >= 128 {
		return false
	}
	if c == ' ' {
		return true
	}
	for _, row := range glyphs[c] {
		if row != 0 {
			return true
		}
	}
	return false
}

// textWidth is the width in pixels of s drawn at the given scale.
func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n*advanceW - 1) * scale
}

// textHeight is the height of a line of text above the baseline (capitals).
func textHeight(scale int) int { return 7 * scale }

// drawText draws s with its top-left corner at (x, y), each font pixel a
// scale×scale square of colour c.
func drawText(dst draw.Image, x, y int, s string, scale int, c color.Color) {
	for _, r := range s {
		if !hasGlyph(r) {
			r = '?'
		}
		for row, bits := range glyphs[r] {
			for col := range glyphW {
				if bits&(1<<(glyphW-1-col)) == 0 {
					continue
				}
				for dy := range scale {
					for dx := range scale {
						dst.Set(x+col*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
		x += advanceW * scale
	}
}

// wrapText breaks s at spaces into lines no wider than maxW pixels at the
// given scale; a word wider than maxW gets a line of its own.
func wrapText(s string, scale, maxW int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case textWidth(cur+" "+w, scale) <= maxW:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// drawTextUp draws s turned a quarter to the left, reading upward (a y-axis
// label), with the top of its letters at column x and its start at row y.
func drawTextUp(dst draw.Image, x, y int, s string, scale int, c color.Color) {
	w := textWidth(s, scale)
	m := image.NewAlpha(image.Rect(0, 0, w, glyphH*scale))
	drawText(m, 0, 0, s, scale, color.Alpha{255})
	for gy := range glyphH * scale {
		for gx := range w {
			if m.AlphaAt(gx, gy).A != 0 {
				dst.Set(x+gy, y-gx, c)
			}
		}
	}
}

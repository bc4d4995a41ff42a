// The shop's catalogue: three categories of three items, drawn from the episode's seeded stream.
var SHOP = [
  { name: 'Home', nouns: ['Lamp', 'Chair', 'Clock', 'Vase', 'Rug', 'Mirror'] },
  { name: 'Books', nouns: ['Atlas', 'Novel', 'Cookbook', 'Diary', 'Almanac', 'Poems'] },
  { name: 'Games', nouns: ['Puzzle', 'Kite', 'Chess Set', 'Yo-yo', 'Dice', 'Marbles'] },
];
var ADJECTIVES = ['Blue', 'Red', 'Quiet', 'Tiny', 'Golden', 'Silver', 'Wooden', 'Soft', 'Green', 'Old'];
function shopCatalogue() {
  return core.shuffle(SHOP.slice()).map(function (cat) {
    var nouns = core.shuffle(cat.nouns.slice()).slice(0, 3);
    return { name: cat.name, items: nouns.map(function (n) { return core.sample(ADJECTIVES) + ' ' + n; }) };
  });
}

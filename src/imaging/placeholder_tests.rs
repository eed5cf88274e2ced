use super::*;

fn solid(width: u32, height: u32, rgba: [u8; 4]) -> Raster {
    Raster {
        width,
        height,
        channels: 4,
        data: rgba.repeat((width * height) as usize),
    }
}

#[test]
fn blurhash_uses_four_by_three_components_for_a_landscape_photo_and_follows_the_aspect() {
    assert_eq!(blurhash_components(1440, 1080), (4, 3));
    assert_eq!(blurhash_components(1080, 1440), (3, 4));
    assert_eq!(blurhash_components(1000, 1000), (4, 4));
    assert_eq!(blurhash_components(2000, 1000), (5, 2));
    assert_eq!(blurhash_components(100_000, 1), (9, 1));
}

#[test]
fn the_colour_is_the_average_composited_onto_the_background() {
    // Half-transparent red on a blue background.
    let small = solid(10, 10, [255, 0, 0, 128]);

    let summary = summarise_small(&small, [0, 0, 255]);

    assert_eq!(summary.placeholder.color, "#80007f");
}

#[test]
fn the_perceptual_hash_is_printed_as_sixteen_hex_digits() {
    let summary = summarise_small(&solid(3, 3, [9, 9, 9, 255]), [255, 255, 255]);

    assert_eq!(summary.phash_hex(), "0000000000000000");
    assert_eq!(phash_distance(0b1011, 0b0110), 3);
}

#[test]
fn the_small_rendering_fits_the_thumbhash_bound_and_keeps_the_aspect() {
    assert_eq!(fit_inside(4032, 3024, 100), (100, 75));
    assert_eq!(fit_inside(30, 20000, 100), (1, 100));
    assert_eq!(fit_inside(64, 48, 100), (64, 48));
}

//! Sen's slope (Theil 1950, Sen 1968): the median of the slopes between every
//! pair of points of a series in time order, per time step, as
//! pymannkendall's `sens_slope` (`(x_j - x_i) / (j - i)`, the median of an
//! even number of slopes the mean of the two middle ones).

/// Sen's slope of `x` (per step); NaN for fewer than two values.
pub fn sen_slope(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mut d = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            d.push((x[j] - x[i]) / (j - i) as f64);
        }
    }
    let m = d.len();
    let mid = m / 2;
    let (_, &mut hi, _) = d.select_nth_unstable_by(mid, f64::total_cmp);
    if m % 2 == 1 {
        return hi;
    }
    // The largest of the lower half is the other middle value.
    // The largest of the lower half in the same total order as the
    // selection (-0 below +0), so the result never depends on f64::max's
    // choice between two zeros.
    let lo = d[..mid]
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(f64::NEG_INFINITY);
    // numpy's median: the mean of the two middle values, as (a + b) / 2.
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::sen_slope;

    #[test]
    fn slope_of_lines_and_medians() {
        let line: Vec<f64> = (0..7).map(|i| 3.0 - 0.5 * f64::from(i)).collect();
        assert_eq!(sen_slope(&line), -0.5);
        // [0, 1, 0]: slopes 1, 0, -1 -> median 0.
        assert_eq!(sen_slope(&[0.0, 1.0, 0.0]), 0.0);
        // [0, 2, 1, 4]: slopes 2, 0.5, 4/3, -1, 1, 3 -> sorted -1, .5, 1, 4/3, 2, 3 -> (1 + 4/3) / 2.
        assert_eq!(sen_slope(&[0.0, 2.0, 1.0, 4.0]), (1.0 + 4.0 / 3.0) / 2.0);
        assert!(sen_slope(&[1.0]).is_nan());
        assert!(sen_slope(&[]).is_nan());
    }
}
